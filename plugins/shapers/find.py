"""Where a model takes each kind of input, read from its schema alone (never from its name).

Replicate's language models name the same things differently: ``image``, ``image_input`` or
``images``; ``system_prompt`` or ``system_instruction``; ``max_tokens``, ``max_new_tokens`` or
``max_output_tokens``. These functions know the names and the shapes (a ``format: uri`` string or
array of them, an enum, a boolean switch) and answer for any schema, including ones never seen.
"""

from __future__ import annotations

import re

import attrs

from patchwire import InputSchema, InputSpec
from patchwire.plugins.mappers.names import MAX_TOKENS

#: A conversation input: an array of ``{role, content}`` objects.
MESSAGES = "messages"
#: Tool definitions: a model with this input speaks OpenAI's tool calling in its messages.
TOOLS = "tools"
#: A system prompt input, by preference (``instructions`` is the Responses API's name for it).
SYSTEM_INPUTS = ("system_prompt", "system_instruction", "system_message", "system", "instructions")
#: Image inputs by preference; any other string/uri input whose name has the word ``image`` or
#: ``images`` (``input_image``, ``reference_images``) or is ``media`` comes after these.
IMAGE_NAMES = ("image_input", "images", "image", "input_image", "input_images", "media", "image_url")
_IMAGE_WORD = re.compile(r"(?:[a-z0-9]+_)*(?:image|images|img|media)(?:_[a-z0-9]+)*")
#: Name words that mean the input is about images but is not one (``image_resolution``, ...).
_NOT_AN_IMAGE = frozenset({"resolution", "size", "detail", "count", "format", "quality", "width", "height"})


@attrs.frozen
class ImageInput:
    """A model's image input: its name, how many images it takes (None: no limit) and whether the
    model runs without one."""

    name: str
    many: bool
    limit: int | None
    required: bool

    def describe(self) -> str:
        if not self.many:
            return f"one image (input {self.name!r})"
        if self.limit is not None:
            return f"up to {self.limit} images (input {self.name!r})"
        return f"a list of images (input {self.name!r})"


def _is_uri_string(type_: str | None, format_: str | None) -> bool:
    # Some published schemas drop the uri format of a file input (Gemma 3's `image`); a string named
    # like an image is still one. Any other format (a date, an enum name) is not.
    return type_ in (None, "string") and format_ in (None, "uri")


#: Answers of ``image_input`` by schema object (kept alive here, so its id stays its own): the
#: search runs once per model, not per call.
_FOUND: dict[int, tuple[InputSchema, ImageInput | None]] = {}
_FOUND_MAX = 4096


def image_input(schema: InputSchema) -> ImageInput | None:
    """The model's image input, or None when it takes no image."""
    known = _FOUND.get(id(schema))
    if known is not None and known[0] is schema:
        return known[1]
    found = _search_image_input(schema)
    if len(_FOUND) >= _FOUND_MAX:
        _FOUND.clear()
    _FOUND[id(schema)] = (schema, found)
    return found


def _search_image_input(schema: InputSchema) -> ImageInput | None:
    candidates: list[InputSpec] = []
    for spec in schema.inputs.values():
        name = spec.name.lower()
        if not _IMAGE_WORD.fullmatch(name) or _NOT_AN_IMAGE.intersection(name.split("_")):
            continue
        if spec.type == "array":
            if not _is_uri_string(spec.item_type, spec.item_format):
                continue
        elif not _is_uri_string(spec.type, spec.format) or spec.enum is not None:
            continue
        candidates.append(spec)
    if not candidates:
        return None

    def rank(spec: InputSpec) -> int:
        lowered = spec.name.lower()
        return IMAGE_NAMES.index(lowered) if lowered in IMAGE_NAMES else len(IMAGE_NAMES)

    best = min(candidates, key=rank)  # stable: schema order breaks ties
    many = best.type == "array"
    limit = best.max_items if many else 1
    return ImageInput(best.name, many, limit, best.name in schema.required)


def messages_input(schema: InputSchema) -> str | None:
    """The model's conversation input (an array), or None."""
    spec = schema.inputs.get(MESSAGES)
    if spec is None or spec.type not in (None, "array") or spec.item_type not in (None, "object"):
        return None
    return spec.name


def takes_tools(schema: InputSchema) -> bool:
    """Whether the model takes tool definitions (an array ``tools`` input)."""
    spec = schema.inputs.get(TOOLS)
    return spec is not None and spec.type in (None, "array")


def system_input(schema: InputSchema) -> str | None:
    """The model's system prompt input (a string), or None."""
    for name in SYSTEM_INPUTS:
        spec = schema.inputs.get(name)
        if spec is not None and spec.type in (None, "string") and spec.enum is None:
            return name
    return None


def token_limit_input(schema: InputSchema) -> InputSpec | None:
    """The model's maximum-output-length input, or None."""
    for name in MAX_TOKENS:
        spec = schema.inputs.get(name)
        if spec is not None and spec.type in (None, "integer"):
            return spec
    return None
