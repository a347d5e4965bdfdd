"""The data types every part of patchwire speaks: messages, requests, model references, responses.

All are slotted attrs classes. They know nothing of JSON: ``patchwire.codec`` is the only module that
knows the OpenAI wire shape. Hot-path objects are built with their constructors, never structured.

What describes a model or a configuration (``ModelRef``, ``InputSchema``, templates, routes) is frozen.
What every call builds, and every streamed token (messages, the request, responses, chunks), is not: a
frozen attrs class sets each field through ``object.__setattr__``, which made a ``ChatRequest`` cost four
times the instructions to build, a tenth of a prediction's whole client cost. Treat them as values all
the same: the core never changes one once built (``attrs.evolve`` makes a changed copy), and a plugin
must not either.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

import attrs

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")


class _ItemAccess:
    """Lets ``r["choices"][0]["message"]["content"]`` work beside ``r.choices[0].message.content``.

    OpenAI and LiteLLM users index responses like dicts; both spellings read the same attributes.
    """

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        if key in attrs.fields_dict(type(self)):  # type: ignore[arg-type]
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in attrs.fields_dict(type(self))  # type: ignore[arg-type]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> Iterator[str]:
        return iter(attrs.fields_dict(type(self)))  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI-shaped dict (the same keys the JSON has)."""
        from patchwire.codec import unstructure

        result: dict[str, Any] = unstructure(self)
        return result

    def to_json(self) -> bytes:
        """OpenAI-shaped JSON bytes."""
        from patchwire.codec import dumps

        return dumps(self)


@attrs.define(slots=True)
class ContentPart(_ItemAccess):
    """One part of a list-valued ``content``: ``{"type": "text", "text": ...}`` or an image part."""

    type: str
    text: str | None = None
    image_url: Mapping[str, Any] | None = None


@attrs.define(slots=True)
class Message(_ItemAccess):
    """A chat message. ``content`` is a string, a tuple of parts, or None (assistant tool calls)."""

    role: str
    content: str | tuple[ContentPart, ...] | None
    name: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] | None = None
    tool_call_id: str | None = None
    #: The model's reasoning, where it wrote it inline (``<think>…</think>``), as LiteLLM returns it.
    reasoning_content: str | None = None

    @property
    def text(self) -> str:
        """The content as one string: text parts joined with no separator."""
        content = self.content
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        return "".join(part.text or "" for part in content if part.type == "text")


@attrs.frozen(slots=True, cache_hash=True)  # a cache key on every call
class ModelRef:
    """A parsed model reference: what a provider needs to address one model.

    ``raw`` is the text after the provider prefix, exactly as the caller wrote it.
    """

    provider: str
    raw: str
    owner: str | None = None
    name: str | None = None
    version: str | None = None
    deployment: bool = False

    @property
    def slug(self) -> str:
        """``owner/name`` where known (what formatters match against), else ``raw``."""
        if self.owner and self.name:
            return f"{self.owner}/{self.name}"
        return self.raw

    def __str__(self) -> str:
        return f"{self.provider}/{self.raw}"


@attrs.frozen(slots=True)
class InputSpec:
    """One input a model accepts, as its schema describes it (provider-neutral)."""

    name: str
    type: str | None = None  # "string", "integer", "number", "boolean", ...
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[Any, ...] | None = None
    description: str | None = None
    #: ``uri`` for a file input (a URL, a ``data:`` URL or an uploaded file's link).
    format: str | None = None
    #: For an ``array`` input: its items' type and format, and the most items it takes.
    item_type: str | None = None
    item_format: str | None = None
    max_items: int | None = None


@attrs.frozen(slots=True)
class InputSchema:
    """The inputs one model (version) accepts. Mappers use it to pick names and check values."""

    inputs: Mapping[str, InputSpec]
    required: tuple[str, ...] = ()

    def __contains__(self, name: object) -> bool:
        return name in self.inputs

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.inputs)


@attrs.define(slots=True)
class ChatRequest:
    """One validated call, as the pipeline sees it.

    ``params`` holds every parameter the caller (or the config's defaults) gave besides the messages:
    OpenAI's (``max_tokens``, ``stop``, ...) and provider-specific ones (``seed``, ``top_k``, ...) alike,
    untouched; mappers decide what each becomes.
    """

    model: str
    ref: ModelRef
    messages: tuple[Message, ...]
    params: Mapping[str, Any]
    stream: bool = False
    timeout: float = 600.0
    api_key: str | None = attrs.field(default=None, repr=False)
    api_base: str | None = None
    format: str | None = None
    drop_params: bool = False
    #: ``stream_options={"include_usage": True}``: the stream ends with a chunk carrying ``usage``.
    include_usage: bool = False
    #: The caller's ``metadata=`` (for call wrappers and logs; never sent to the model).
    metadata: Mapping[str, Any] | None = None
    #: The caller's ``user=`` (the end user's id; logged, never sent to the model).
    user: str | None = None


@attrs.define(slots=True)
class Usage(_ItemAccess):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@attrs.define(slots=True)
class Choice(_ItemAccess):
    index: int
    message: Message
    finish_reason: str | None = "stop"
    logprobs: Any = None


@attrs.define(slots=True)
class ChatResponse(_ItemAccess):
    """An OpenAI ``chat.completion`` object."""

    id: str
    created: int
    model: str
    choices: tuple[Choice, ...]
    usage: Usage | None = None
    object: str = "chat.completion"
    system_fingerprint: str | None = None


@attrs.define(slots=True)
class Delta(_ItemAccess):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None


@attrs.define(slots=True)
class ChunkChoice(_ItemAccess):
    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: Any = None


@attrs.define(slots=True)
class ChatChunk(_ItemAccess):
    """An OpenAI ``chat.completion.chunk`` object."""

    id: str
    created: int
    model: str
    choices: tuple[ChunkChoice, ...]
    object: str = "chat.completion.chunk"
    system_fingerprint: str | None = None
    usage: Usage | None = None


@attrs.define(slots=True)
class TextChoice(_ItemAccess):
    text: str
    index: int = 0
    logprobs: Any = None
    finish_reason: str | None = None


@attrs.define(slots=True)
class TextCompletion(_ItemAccess):
    """An OpenAI ``text_completion`` object (the legacy completions API). A streamed text completion
    is a series of these, each holding the next piece of text."""

    id: str
    created: int
    model: str
    choices: tuple[TextChoice, ...]
    usage: Usage | None = None
    object: str = "text_completion"
    system_fingerprint: str | None = None


@attrs.frozen(slots=True)
class RoleTemplate:
    """What a custom prompt template puts before and after one role's messages."""

    pre_message: str = ""
    post_message: str = ""


@attrs.frozen(slots=True)
class PromptTemplate:
    """A custom prompt template in LiteLLM's format.

    ``bos_token`` goes at the start and before each system/user turn that follows an assistant turn;
    ``eos_token`` after each assistant turn.
    """

    roles: Mapping[str, RoleTemplate]
    initial_prompt_value: str = ""
    final_prompt_value: str = ""
    bos_token: str = ""
    eos_token: str = ""
    #: A Hugging Face Jinja chat template (``tokenizer_config["chat_template"]``); when set it renders
    #: the prompt instead of ``roles`` (with ``bos_token``/``eos_token`` as its variables).
    chat_template: str | None = None
    #: Send the first system message as the model's ``system_prompt`` input, not in the prompt.
    supports_system_prompt: bool = False


@attrs.frozen(slots=True)
class ModelRoute:
    """Where a public model name (a config alias) sends a call, and the policy it carries.

    ``params`` apply beneath the call's own arguments; ``format`` (a formatter's name) or ``template``
    forces the prompt format for this route. ``timeout`` is the route's deadline in seconds: a call's
    own ``timeout=`` may shorten it, never lengthen it (without one, the router's default applies and
    a call may set any). ``drop_params=True`` drops parameters the model does not take on every call
    through the route, as if each call passed it.
    """

    model: str
    params: Mapping[str, Any] = attrs.field(factory=dict)
    api_key: str | None = attrs.field(default=None, repr=False)
    api_base: str | None = None
    format: str | None = None
    template: PromptTemplate | None = None
    timeout: float | None = None
    drop_params: bool = False
    #: Retries of each retryable request of a call on this route (None: the router's, else the
    #: provider's own policy).
    num_retries: int | None = None
