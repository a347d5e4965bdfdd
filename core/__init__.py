"""patchwire: call hosted language models through one async, OpenAI-shaped interface.

    response = await patchwire.acompletion(
        model="replicate/meta/meta-llama-3-8b-instruct",
        messages=[{"role": "user", "content": "Hello"}],
        max_tokens=20,
    )
    print(response.choices[0].message.content)

Everything model-specific lives in plugins found through the entry-point group ``patchwire``;
``patchwire plugins`` lists what loaded. Plugin authors mark hook implementations with
``@patchwire.hookimpl`` (see ``patchwire.hookspecs``).
"""

import sys as _sys
import types as _types

from patchwire import debug
from patchwire.api import (
    acompletion,
    atext_completion,
    completion,
    get_router,
    register_prompt_template,
    text_completion,
)
from patchwire.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    MissingDependencyError,
    NotFoundError,
    PatchwireError,
    PluginError,
    ProviderError,
    RateLimitError,
    RejectedURLError,
    ResponseTooLargeError,
    ServiceUnavailableError,
    Timeout,
    UnknownOutcomeError,
)
from patchwire.formatting import message_texts, text_of
from patchwire.hookspecs import hookimpl
from patchwire.interfaces import (
    CallWrapper,
    InputShaper,
    MapCall,
    ModelFacts,
    ParamMapper,
    PromptFormatter,
    Provider,
    ProviderCall,
    ProviderContext,
    ShapeCall,
)
from patchwire.manager import Plugins, get_plugins
from patchwire.ratelimit import RateGate
from patchwire.router import Router
from patchwire.stream import Stream, SyncStream
from patchwire.text import TextStream
from patchwire.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ChunkChoice,
    ContentPart,
    Delta,
    InputSchema,
    InputSpec,
    Message,
    ModelRef,
    ModelRoute,
    PromptTemplate,
    RoleTemplate,
    TextChoice,
    TextCompletion,
    Usage,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "CallWrapper",
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "Choice",
    "ChunkChoice",
    "ConfigError",
    "ContentPart",
    "Delta",
    "InputSchema",
    "InputShaper",
    "InputSpec",
    "MapCall",
    "Message",
    "MissingDependencyError",
    "ModelFacts",
    "ModelRef",
    "ModelRoute",
    "NotFoundError",
    "ParamMapper",
    "PatchwireError",
    "PluginError",
    "Plugins",
    "PromptFormatter",
    "PromptTemplate",
    "Provider",
    "ProviderCall",
    "ProviderContext",
    "ProviderError",
    "RateGate",
    "RateLimitError",
    "RejectedURLError",
    "ResponseTooLargeError",
    "RoleTemplate",
    "Router",
    "ServiceUnavailableError",
    "ShapeCall",
    "Stream",
    "SyncStream",
    "TextChoice",
    "TextCompletion",
    "TextStream",
    "Timeout",
    "UnknownOutcomeError",
    "Usage",
    "acompletion",
    "atext_completion",
    "completion",
    "debug",
    "get_plugins",
    "get_router",
    "hookimpl",
    "message_texts",
    "register_prompt_template",
    "text_completion",
    "text_of",
]


class _Module(_types.ModuleType):
    """``patchwire.set_verbose = True`` (LiteLLM's spelling) prints debug output (``patchwire.debug``)."""

    @property
    def set_verbose(self) -> bool:
        return debug.verbose()

    @set_verbose.setter
    def set_verbose(self, on: bool) -> None:
        debug.set_verbose(on)


_sys.modules[__name__].__class__ = _Module
debug.configure_from_environment()
