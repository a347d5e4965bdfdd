"""LiteLLM's call options: taken out of a call's keyword arguments, checked, and never sent to the model.

=========================  ===============================================================================
``num_retries``            retries of each request of this call that fails in a retryable way (429, 5xx,
                           a lost connection): ``0`` fails at the first; default: the provider's policy
``max_retries``            the same (the OpenAI client's name)
``request_timeout``        ``timeout=`` (seconds)
``base_url``               ``api_base=``
``metadata``               a dict handed to call wrappers (``call.request.metadata``) and the debug log
``user``                   the end user's id: logged with the call
``mock_response``          a string (the answer, plain or streamed) or an exception (raised): no network
``fallbacks``              models tried in order when this one fails in a way another model can fix
``fallback_on_unknown_outcome``  also fall back after an ``UnknownOutcomeError`` (off: the first
                           prediction may still be running, and billed)
=========================  ===============================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from patchwire.errors import BadRequestError
from patchwire.validation import show

NAMES = (
    "num_retries",
    "max_retries",
    "request_timeout",
    "base_url",
    "metadata",
    "user",
    "mock_response",
    "fallbacks",
    "fallback_on_unknown_outcome",
)
OPTION_NAMES = frozenset(NAMES)
#: Most fallbacks one call may name.
MAX_FALLBACKS = 10


@attrs.frozen
class CallOptions:
    num_retries: int | None = None
    metadata: Mapping[str, Any] | None = None
    user: str | None = None
    mock_response: Any = None
    fallbacks: tuple[str, ...] = ()
    fallback_on_unknown_outcome: bool = False


def check_num_retries(value: Any, name: str = "num_retries") -> int | None:
    """A retry count: a whole number, 0 or more (None: the default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequestError(f"{name} must be a whole number, 0 or more, not {show(value)}", param=name)
    if value < 0:
        raise BadRequestError(f"{name} must be 0 or more, not {value}", param=name)
    return value


def check_fallbacks(value: Any, name: str = "fallbacks") -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise BadRequestError(f"{name} must be a list of model names, not {show(value)}", param=name)
    if len(value) > MAX_FALLBACKS:
        raise BadRequestError(f"{name} names {len(value)} models; at most {MAX_FALLBACKS}", param=name)
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise BadRequestError(f"{name} must hold model names (strings), not {show(item)}", param=name)
    return tuple(value)


def take_call_options(params: dict[str, Any], timeout: Any, api_base: Any) -> tuple[CallOptions, Any, Any]:
    """Pop LiteLLM's call options from ``params`` (in place); returns them with the call's timeout and
    api_base after ``request_timeout`` and ``base_url`` are applied."""
    if OPTION_NAMES.isdisjoint(params):  # the common case: a set operation, not a loop
        return NO_OPTIONS, timeout, api_base
    num_retries = check_num_retries(params.pop("num_retries", None))
    max_retries = check_num_retries(params.pop("max_retries", None), "max_retries")
    if num_retries is None:
        num_retries = max_retries
    request_timeout = params.pop("request_timeout", None)
    if request_timeout is not None:
        if timeout is not None and timeout != request_timeout:
            raise BadRequestError(
                "timeout and request_timeout disagree; give one of them", param="request_timeout"
            )
        timeout = request_timeout
    base_url = params.pop("base_url", None)
    if base_url is not None:
        if api_base is not None and api_base != base_url:
            raise BadRequestError("api_base and base_url disagree; give one of them", param="base_url")
        api_base = base_url
    metadata = params.pop("metadata", None)
    if metadata is not None and not isinstance(metadata, Mapping):
        raise BadRequestError(f"metadata must be an object (a dict), not {show(metadata)}", param="metadata")
    user = params.pop("user", None)
    if user is not None and not isinstance(user, str):
        raise BadRequestError(f"user must be a string, not {show(user)}", param="user")
    mock = params.pop("mock_response", None)
    if mock is not None and not isinstance(mock, str | BaseException):
        raise BadRequestError(
            f"mock_response must be a string (the answer) or an exception (raised), not {show(mock)}",
            param="mock_response",
        )
    fallbacks = check_fallbacks(params.pop("fallbacks", None))
    unknown = params.pop("fallback_on_unknown_outcome", None)
    if unknown is not None and not isinstance(unknown, bool):
        raise BadRequestError(
            f"fallback_on_unknown_outcome must be true or false, not {show(unknown)}",
            param="fallback_on_unknown_outcome",
        )
    options = CallOptions(
        num_retries=num_retries,
        metadata=metadata,
        user=user,
        mock_response=mock,
        fallbacks=fallbacks,
        fallback_on_unknown_outcome=bool(unknown),
    )
    return options, timeout, api_base


NO_OPTIONS = CallOptions()
