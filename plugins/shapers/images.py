"""Images: OpenAI ``image_url`` content parts reach the model's image input, found by its schema.

An https URL is sent as it is; a ``data:`` URL is checked to hold an image and sent as it is too (the
provider moves a large one to its file storage first). The image parts are taken out of the
conversation, so the text that is left reaches the model's text inputs as before. A conversation with
more images than the model takes, or any image for a model without an image input, is refused with
a message that names the model and what it takes; so is a model that requires an image and got none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from patchwire import BadRequestError, ContentPart, Message, ModelFacts, ShapeCall
from patchwire.plugins.shapers.base import prepared_shaper
from patchwire.plugins.shapers.data_urls import read_data_image
from patchwire.plugins.shapers.find import ImageInput, image_input


def _image_url(part: ContentPart, where: str) -> str:
    url: Any = part.image_url.get("url") if part.image_url is not None else None
    if not isinstance(url, str) or not url:
        raise BadRequestError(
            f"{where} is an image_url part without a URL; write "
            "{'type': 'image_url', 'image_url': {'url': 'https://...'}}",
            param=where,
        )
    if url[:5].lower() == "data:":
        read_data_image(url, where)
        return url
    if url[:8].lower() != "https://" or len(url) == 8 or any(c.isspace() for c in url):
        raise BadRequestError(
            f"{where}.image_url.url must be an https URL or a data:image/...;base64 URL",
            param=where,
        )
    return url


def collect_images(messages: tuple[Message, ...]) -> tuple[list[str], tuple[Message, ...]]:
    """The image URLs in the conversation, in order, and the conversation without them."""
    urls: list[str] = []
    rest: list[Message] = []
    for i, message in enumerate(messages):
        content = message.content
        if not isinstance(content, tuple) or not any(p.type == "image_url" for p in content):
            rest.append(message)
            continue
        kept: list[ContentPart] = []
        for j, part in enumerate(content):
            if part.type == "image_url":
                urls.append(_image_url(part, f"messages[{i}].content[{j}]"))
            else:
                kept.append(part)
        rest.append(attrs.evolve(message, content=tuple(kept)))
    return urls, tuple(rest)


def _accepted(schema_names: tuple[str, ...]) -> str:
    return ", ".join(schema_names)


def prepare_images(model: ModelFacts) -> Callable[[ShapeCall], None]:
    """The model's image input, found once. A call whose messages have no content parts has no
    images: with it only a required image is looked for."""
    schema = model.schema
    found = image_input(schema) if schema is not None else None
    requires_image = found is not None and found.required

    def shape_images(call: ShapeCall) -> None:
        if requires_image:
            _shape_images(call, found)
            return
        # A loop written out (no helper, no generator): it runs on every call to every model.
        for message in call.messages:
            if message.content.__class__ is tuple:
                _shape_images(call, found)
                return

    return shape_images


def _shape_images(call: ShapeCall, found: ImageInput | None) -> None:
    urls, rest = collect_images(call.messages)
    model = call.ref  # formatted into a message only when one is needed
    schema = call.schema
    if schema is None:
        if urls:
            raise BadRequestError(
                f"patchwire could not read the input schema of {model}, so it cannot tell which "
                "input takes images; pass the image URL as the model's own parameter (e.g. "
                "image='https://...') instead of an image_url part",
                param="messages",
            )
        return
    if found is None:
        if urls:
            raise BadRequestError(
                f"{model} takes no images (it has no image input; its inputs are "
                f"{_accepted(schema.names)}); remove the image_url parts, or use a model that "
                "takes images",
                param="messages",
            )
        return
    if not urls:
        if found.required and found.name not in call.params:
            raise BadRequestError(
                f"{model} requires an image ({found.describe()}); add an image_url content part "
                "to a user message",
                param="messages",
            )
        return
    if found.name in call.params:
        raise BadRequestError(
            f"{model} got images both as image_url parts and as the parameter {found.name!r}; "
            "send them one way",
            param=found.name,
        )
    _check_count(model, found, len(urls))
    call.inputs[found.name] = urls if found.many else urls[0]
    call.messages = rest


def _check_count(model: object, found: ImageInput, count: int) -> None:
    if found.limit is not None and count > found.limit:
        raise BadRequestError(
            f"{model} takes {found.describe()}, and this conversation has {count}; send at most "
            f"{found.limit}",
            param="messages",
        )


IMAGES = prepared_shaper("images", 100, prepare_images)
