"""One error hierarchy for the library and the proxy.

Every error carries the HTTP status the proxy answers with, so the proxy maps errors without a table of
its own. Messages say what was wrong and what to do; they never contain an API key.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PatchwireError(Exception):
    """Base of every error patchwire raises on purpose."""

    status_code: ClassVar[int] = 500
    #: The OpenAI error ``type`` the proxy reports.
    error_type: ClassVar[str] = "api_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        prediction_id: str | None = None,
        provider: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.prediction_id = prediction_id
        self.provider = provider
        self.body = body

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class AuthenticationError(PatchwireError):
    """The key is missing, wrong or not allowed (401)."""

    status_code = 401
    error_type = "authentication_error"


class BadRequestError(PatchwireError):
    """The call itself is wrong: bad messages, model string or parameters (400)."""

    status_code = 400
    error_type = "invalid_request_error"


class NotFoundError(PatchwireError):
    """The model, version, deployment or alias does not exist (404)."""

    status_code = 404
    error_type = "not_found_error"


class RateLimitError(PatchwireError):
    """The provider kept refusing for rate limits after the retries we allowed (429)."""

    status_code = 429
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Timeout(PatchwireError):
    """The call's deadline passed (408)."""

    status_code = 408
    error_type = "timeout_error"


class ProviderError(PatchwireError):
    """The provider ran the prediction and it failed or was canceled (502)."""

    status_code = 502
    error_type = "provider_error"


class RejectedURLError(ProviderError):
    """The provider's answer pointed to a URL its credentials must not be sent to (502): not followed."""

    error_type = "rejected_url_error"


class ServiceUnavailableError(PatchwireError):
    """The provider could not be reached or kept failing after retries (503)."""

    status_code = 503
    error_type = "service_unavailable_error"


class UnknownOutcomeError(ServiceUnavailableError):
    """A create request may or may not have made a prediction, and before the deadline it could
    neither be found again nor proven to have made none.

    It is never resent blindly (that could run, and bill, the prediction twice).
    """

    error_type = "unknown_outcome_error"


class ResponseTooLargeError(PatchwireError):
    """An upstream answer (a body, a server-sent event, a line of one) was larger than patchwire
    reads into memory (502): a broken or hostile upstream, not a model's output."""

    status_code = 502
    error_type = "upstream_error"


class ConfigError(PatchwireError):
    """A configuration file or value is wrong (raised at start-up, never per request)."""

    status_code = 500
    error_type = "config_error"


class MissingDependencyError(ConfigError):
    """A feature needs an optional dependency that is not installed (the message names the extra)."""

    error_type = "missing_dependency_error"


class PluginError(PatchwireError):
    """An installed plugin breaks the plugin contract (500): its hook returned an object without a
    method or attribute the core needs. The message names the plugin and its distribution."""

    status_code = 500
    error_type = "plugin_error"

    def __init__(self, message: str, *, plugin: str, distribution: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.plugin = plugin
        self.distribution = distribution


__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "MissingDependencyError",
    "NotFoundError",
    "PatchwireError",
    "PluginError",
    "ProviderError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServiceUnavailableError",
    "Timeout",
    "UnknownOutcomeError",
]


# LiteLLM's (and openai-python's) names, so `except litellm.APIError` code keeps working after
# `import patchwire as litellm`: openai's APIError is the base of every API error, and its
# APIConnectionError means the service could not be reached.
APIError = PatchwireError
APIConnectionError = ServiceUnavailableError
