"""The proxy's YAML config: ``model_list`` entries become ``ModelRoute``s, settings become limits.

The format is LiteLLM's, so an existing LiteLLM config runs unchanged::

    model_list:
      - model_name: llama-3                # the public alias clients ask for
        litellm_params:                    # or ``params``
          model: replicate/meta/meta-llama-3-8b-instruct
          api_key: os.environ/REPLICATE_API_KEY
          max_tokens: 20                   # any other key is a default model parameter
    general_settings:
      master_key: os.environ/PROXY_KEY
    keys: [os.environ/TEAM_KEY]            # more allowed keys (patchwire)

Strictness: a key patchwire does not know is an error (with "did you mean" when it is a near miss), so
a typo never silently changes behaviour — except keys LiteLLM defines that patchwire does not implement
(``model_info``, ``rpm``, ``litellm_settings.callbacks``, ...), which are ignored with a warning. Inside
``litellm_params`` every key that is not one of patchwire's own is a default model parameter, passed to
the model like a request's; near misses of patchwire's own keys are errors, because a mistyped
``api_key`` would otherwise be sent to the model as an input.

Every error names the file, the entry and the field, and is raised before the proxy listens.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from patchwire.cooldowns import DEFAULT_ALLOWED_FAILS, DEFAULT_COOLDOWN_TIME
from patchwire.errors import BadRequestError, ConfigError
from patchwire.manager import Plugins
from patchwire.pipeline import build_pipeline, configure_providers, providers_by_name
from patchwire.proxy.limits import ClientLimits
from patchwire.redis_limits import redis_url
from patchwire.router import DEFAULT_TIMEOUT, make_template
from patchwire.types import ModelRoute
from patchwire.validation import check_params, show

log = logging.getLogger("patchwire.proxy")

ENV_PREFIX = "os.environ/"
DEFAULT_MAX_REQUEST_MB = 4.0

#: Keys of a model entry's params that patchwire itself reads (everything else is a model parameter).
TEMPLATE_KEYS = (
    "roles",
    "initial_prompt_value",
    "final_prompt_value",
    "bos_token",
    "eos_token",
    "chat_template",
)
#: Only with roles: a Jinja chat_template has its own way of opening and closing the prompt.
ROLES_ONLY_KEYS = ("roles", "initial_prompt_value", "final_prompt_value")
ROUTE_KEYS = (
    "model",
    "api_key",
    "api_base",
    "timeout",
    "prompt_format",
    "drop_params",
    "supports_system_prompt",
    "num_retries",
    *TEMPLATE_KEYS,
)
#: Route keys whose value may be ``os.environ/NAME`` (no other value may read the environment: a
#: secret must never become a model input).
ENV_KEYS = ("api_key", "api_base")

#: Params that look like a credential (``token``, ``API_KEY`` ...): refused, never sent as model inputs.
CREDENTIAL_NAME = re.compile(
    r"(?i)(replicate_?)?(api_?)?(key|token|secret|password|passwd|auth|authorization|bearer|credentials?)"
    r"|(api|access|secret|private)[_-]?(key|token)s?"
)

#: LiteLLM keys patchwire does not implement: ignored with a warning instead of refused.
LITELLM_TOP = {
    "environment_variables",
    "callback_settings",
    "guardrails",
    "credential_list",
    "files_settings",
    "assistant_settings",
    "finetune_settings",
    "include",
}
LITELLM_ENTRY = {"model_info", "tpm", "rpm"}
LITELLM_ROUTE = {
    "rpm",
    "tpm",
    "max_retries",
    "stream_timeout",
    "custom_llm_provider",
    "api_version",
    "organization",
    "region_name",
    "input_cost_per_token",
    "output_cost_per_token",
    "input_cost_per_second",
    "output_cost_per_second",
    "max_budget",
    "budget_duration",
}
#: Sharing limits and cooldowns across replicas (LiteLLM's spelling, plus patchwire's redis_optional).
REDIS_KEYS = ("redis_url", "redis_host", "redis_port", "redis_password", "redis_optional", "rpm_burst")
#: In LiteLLM's settings sections every key we do not read is LiteLLM's own: warn, don't refuse.
GENERAL_KEYS = (
    "master_key",
    "max_request_size_mb",
    "metrics_public",
    # what one client may take (patchwire.proxy.limits.ClientLimits has the defaults)
    "client_header_timeout",
    "client_body_timeout",
    "keepalive_timeout",
    "max_client_connections",
    "max_client_connections_per_ip",
    "max_parallel_requests",
    "rpm_limit",
    "cors_origins",
    "allowed_hosts",
)
ROUTER_KEYS = (
    "max_connections",
    "max_concurrency",
    "timeout",
    "rpm",
    "max_in_flight",  # refused with a pointer to max_concurrency
    "provider_options",
    "max_back_off",
    "num_retries",
    "fallbacks",
    "allowed_fails",
    "cooldown_time",
    *REDIS_KEYS,
)
LITELLM_SETTINGS_KEYS = ("drop_params", "request_timeout", "num_retries")
TOP_KEYS = ("model_list", "general_settings", "router_settings", "litellm_settings", "keys")


@attrs.frozen
class ProxyConfig:
    """Everything the proxy needs from its config file, checked and with the environment read."""

    source: str
    routes: Mapping[str, tuple[ModelRoute, ...]]
    keys: tuple[str, ...] = attrs.field(default=(), repr=False)
    max_request_size: int = int(DEFAULT_MAX_REQUEST_MB * 1024 * 1024)
    max_connections: int = 1000
    max_concurrency: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    rpm: float | None = None
    #: Options for providers by name (``router_settings.provider_options``), given to the Router.
    provider_options: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    #: The longest an upstream's Retry-After may pause calls (seconds); None: the library's default.
    max_back_off: float | None = None
    #: Timeouts, connection caps, per-key limits and allowed origins/hosts for clients.
    client_limits: ClientLimits = attrs.field(factory=ClientLimits)
    rpm_burst: int | None = None
    #: Redis shared by every replica (rate gate, back-off, cooldowns); may hold a password.
    redis_url: str | None = attrs.field(default=None, repr=False)
    #: Start on local limits when that Redis cannot be reached (instead of refusing to start).
    redis_optional: bool = False
    #: Serve ``/metrics`` without a key (for a scraper inside a trusted network).
    metrics_public: bool = False
    #: Models tried, in order, after an alias's own deployments fail (``router_settings.fallbacks``).
    fallbacks: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    #: Default retries of each request (``router_settings.num_retries``); None: the provider's policy.
    num_retries: int | None = None
    allowed_fails: int = DEFAULT_ALLOWED_FAILS
    cooldown_time: float = DEFAULT_COOLDOWN_TIME
    #: Where each route came from, for start-up errors: (alias, index in its list) -> "model_list[3]".
    origins: Mapping[tuple[str, int], str] = attrs.field(factory=dict, eq=False)

    @property
    def aliases(self) -> list[str]:
        return sorted(self.routes)


class _Where:
    """Builds error messages that name the file, the entry and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, entry: str | None, field: str | None, problem: str) -> ConfigError:
        parts = [self.source]
        if entry:
            parts.append(entry)
        if field:
            parts.append(f"field {field!r}")
        return ConfigError(f"{': '.join(parts)}: {problem}", param=field)

    def warn(self, entry: str | None, field: str, why: str) -> None:
        where = f"{self.source}: {entry + ': ' if entry else ''}field {field!r}"
        log.warning("%s is ignored (%s)", where, why)


def load_config(path: str | os.PathLike[str]) -> ProxyConfig:
    """Read and check a config file; any mistake raises ``ConfigError`` naming file, entry and field."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found; pass --config with its path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read the config file: {exc}") from None
    return parse_config_text(text, source=source)


def parse_config_text(text: str, *, source: str = "<config>") -> ProxyConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{source}: {at}invalid YAML: {problem}") from None
    return parse_config(data, source=source)


def parse_config(data: Any, *, source: str = "<config>") -> ProxyConfig:
    """A config from already-parsed YAML/JSON data (a mapping)."""
    where = _Where(source)
    if not isinstance(data, Mapping):
        raise where.error(None, None, "the config must be a mapping with a 'model_list' key")
    _check_keys(where, None, data, TOP_KEYS, ignored=LITELLM_TOP)

    routes, origins = _model_list(where, data.get("model_list"))

    general = _section(where, data, "general_settings")
    _check_keys(where, "general_settings", general, GENERAL_KEYS, ignored=None)
    keys: list[str] = []
    if general.get("master_key") is not None:
        keys.append(_key(where, "general_settings", "master_key", general["master_key"]))
    raw_keys = data.get("keys")
    if raw_keys is not None:
        if not isinstance(raw_keys, list):
            raise where.error(None, "keys", "must be a list of API keys (strings)")
        for i, key in enumerate(raw_keys):
            keys.append(_key(where, None, f"keys[{i}]", key))
    size_mb = _number(where, "general_settings", "max_request_size_mb", general.get("max_request_size_mb"))

    router = _section(where, data, "router_settings")
    _check_keys(where, "router_settings", router, ROUTER_KEYS, ignored=None)
    settings = _section(where, data, "litellm_settings")
    _check_keys(where, "litellm_settings", settings, LITELLM_SETTINGS_KEYS, ignored=None)
    global_drop = _bool(where, "litellm_settings", "drop_params", settings.get("drop_params"))
    timeout = _number(where, "router_settings", "timeout", router.get("timeout"))
    if timeout is None:
        timeout = _number(where, "litellm_settings", "request_timeout", settings.get("request_timeout"))
    timeout = timeout or DEFAULT_TIMEOUT
    if "max_in_flight" in router:
        raise where.error(
            "router_settings",
            "max_in_flight",
            "calls in flight have one limit, max_concurrency; rename max_in_flight to max_concurrency",
        )
    # Each route carries its own policy: its timeout (a bound a request may only shorten; the
    # config-wide one where it sets none) and drop_params (on for every route when set globally).
    routes = {
        alias: tuple(
            attrs.evolve(
                r,
                timeout=r.timeout if r.timeout is not None else timeout,
                drop_params=r.drop_params or bool(global_drop),
            )
            for r in rs
        )
        for alias, rs in routes.items()
    }

    num_retries = _retries(where, "router_settings", router.get("num_retries"))
    if num_retries is None:
        num_retries = _retries(where, "litellm_settings", settings.get("num_retries"))
    allowed_fails = _integer(where, "router_settings", "allowed_fails", router.get("allowed_fails"))
    cooldown_time = router.get("cooldown_time")
    if cooldown_time is not None and (
        isinstance(cooldown_time, bool) or not isinstance(cooldown_time, int | float) or cooldown_time < 0
    ):
        raise where.error(
            "router_settings", "cooldown_time", f"must be 0 or more seconds, not {cooldown_time!r}"
        )

    return ProxyConfig(
        source=source,
        routes=routes,
        keys=tuple(keys),
        max_request_size=int((size_mb or DEFAULT_MAX_REQUEST_MB) * 1024 * 1024),
        max_connections=_integer(where, "router_settings", "max_connections", router.get("max_connections"))
        or 1000,
        max_concurrency=_integer(where, "router_settings", "max_concurrency", router.get("max_concurrency")),
        timeout=timeout,
        rpm=_number(where, "router_settings", "rpm", router.get("rpm")),
        metrics_public=bool(
            _bool(where, "general_settings", "metrics_public", general.get("metrics_public"))
        ),
        provider_options=_provider_options(where, router.get("provider_options")),
        max_back_off=_number(where, "router_settings", "max_back_off", router.get("max_back_off")),
        client_limits=_client_limits(where, general, keyless=not keys),
        rpm_burst=_integer(where, "router_settings", "rpm_burst", router.get("rpm_burst")),
        redis_url=_redis(where, router),
        redis_optional=bool(_bool(where, "router_settings", "redis_optional", router.get("redis_optional"))),
        fallbacks=_fallbacks(where, router.get("fallbacks"), routes),
        num_retries=num_retries,
        allowed_fails=allowed_fails or DEFAULT_ALLOWED_FAILS,
        cooldown_time=DEFAULT_COOLDOWN_TIME if cooldown_time is None else float(cooldown_time),
        origins=origins,
    )


def _client_limits(where: _Where, general: Mapping[Any, Any], *, keyless: bool) -> ClientLimits:
    section = "general_settings"
    numbers = {
        "header_timeout": "client_header_timeout",
        "body_timeout": "client_body_timeout",
        "keepalive_timeout": "keepalive_timeout",
        "rpm_limit": "rpm_limit",
    }
    integers = {
        "max_connections": "max_client_connections",
        "max_connections_per_ip": "max_client_connections_per_ip",
        "max_parallel_requests": "max_parallel_requests",
    }
    given: dict[str, Any] = {}
    for attr, name in numbers.items():
        value = _number(where, section, name, general.get(name))
        if value is not None:
            given[attr] = value
    for attr, name in integers.items():
        count = _integer(where, section, name, general.get(name))
        if count is not None:
            given[attr] = count
    origins = _strings(where, section, "cors_origins", general.get("cors_origins"))
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
            raise where.error(
                section, "cors_origins", f"{show(origin)} is not an origin like https://app.example"
            )
    if "*" in origins and keyless:
        raise where.error(
            section,
            "cors_origins",
            "'*' lets every web page use a proxy that has no API key; set master_key or list origins",
        )
    hosts = _strings(where, section, "allowed_hosts", general.get("allowed_hosts"))
    return ClientLimits(
        **given,
        cors_origins=tuple(o.rstrip("/") for o in origins),
        allowed_hosts=tuple(h.strip().lower() for h in hosts),
    )


def _strings(where: _Where, entry: str, field: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise where.error(entry, field, "must be a list of non-empty strings")
    return [v.strip() for v in value]


def _redis(where: _Where, router: Mapping[Any, Any]) -> str | None:
    """The Redis URL from ``redis_url`` or ``redis_host``/``redis_port``/``redis_password``."""
    entry = "router_settings"
    if router.get("redis_url") is None and router.get("redis_host") is None:
        for field in ("redis_port", "redis_password", "redis_optional"):
            if router.get(field) is not None:
                raise where.error(entry, field, "needs redis_host (or redis_url) to say which Redis")
        return None
    if router.get("redis_url") is not None:
        for field in ("redis_host", "redis_port", "redis_password"):
            if router.get(field) is not None:
                raise where.error(entry, field, "give either redis_url or redis_host/redis_port, not both")
        url = _secret(where, entry, "redis_url", router["redis_url"])
        host, port, password = None, None, None
    else:
        url = None
        host = _env_string(where, entry, "redis_host", router["redis_host"])
        raw_port = router.get("redis_port")
        if isinstance(raw_port, str) and raw_port.startswith(ENV_PREFIX):
            raw_port = _env_string(where, entry, "redis_port", raw_port)
        if isinstance(raw_port, str) and raw_port.isdigit():
            raw_port = int(raw_port)
        port = _integer(where, entry, "redis_port", raw_port)
        if port is not None and port > 65535:
            raise where.error(entry, "redis_port", f"must be a port number (1-65535), not {port}")
        raw_password = router.get("redis_password")
        password = None if raw_password is None else _secret(where, entry, "redis_password", raw_password)
    try:
        return redis_url(url=url, host=host, port=port, password=password)
    except ConfigError as exc:
        raise where.error(entry, exc.param, exc.message) from None


def _model_list(
    where: _Where, raw: Any
) -> tuple[dict[str, tuple[ModelRoute, ...]], dict[tuple[str, int], str]]:
    if raw is None:
        raise where.error(None, "model_list", "missing; list the models the proxy serves")
    if not isinstance(raw, list) or not raw:
        raise where.error(None, "model_list", "must be a non-empty list of {model_name, litellm_params}")
    routes: dict[str, list[ModelRoute]] = {}
    origins: dict[tuple[str, int], str] = {}
    for index, entry in enumerate(raw):
        label = f"model_list[{index}]"
        if not isinstance(entry, Mapping):
            raise where.error(label, None, "must be a mapping with model_name and litellm_params")
        alias = entry.get("model_name")
        if not isinstance(alias, str) or not alias.strip():
            raise where.error(label, "model_name", "missing or empty; give the public model name")
        label = f"{label} ({alias})"
        _check_keys(where, label, entry, ("model_name", "litellm_params", "params"), ignored=LITELLM_ENTRY)
        if "params" in entry and "litellm_params" in entry:
            raise where.error(label, "params", "give either params or litellm_params, not both")
        key = "params" if "params" in entry else "litellm_params"
        params = entry.get(key)
        if not isinstance(params, Mapping):
            raise where.error(label, key, "missing; it must be a mapping with at least 'model'")
        route = _route(where, label, key, params)
        rs = routes.setdefault(alias, [])
        origins[(alias, len(rs))] = label
        rs.append(route)
    return {alias: tuple(rs) for alias, rs in routes.items()}, origins


def _route(where: _Where, label: str, key: str, raw: Mapping[Any, Any]) -> ModelRoute:
    own: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for name, value in raw.items():
        field = f"{key}.{name}"
        if not isinstance(name, str):
            raise where.error(label, field, "keys must be strings")
        if name in ROUTE_KEYS:
            own[name] = value
            continue
        if name in LITELLM_ROUTE:
            where.warn(label, field, "a LiteLLM setting patchwire does not implement")
            continue
        near = _near_miss(name, ROUTE_KEYS)
        if near:
            raise where.error(label, field, f"unknown key; did you mean {near!r}?")
        if CREDENTIAL_NAME.fullmatch(name):
            # It would be sent to the model as an input: a credential handed to whoever runs it.
            raise where.error(
                label, field, "looks like a credential, which no model input takes; did you mean 'api_key'?"
            )
        if isinstance(value, str) and value.startswith(ENV_PREFIX):
            raise where.error(
                label, field, f"only {' and '.join(ENV_KEYS)} may read the environment (os.environ/...)"
            )
        defaults[name] = value

    model = own.get("model")
    if not isinstance(model, str) or not model.strip():
        raise where.error(
            label,
            f"{key}.model",
            "missing; give the provider model, e.g. replicate/meta/meta-llama-3-8b-instruct",
        )
    api_key = own.get("api_key")
    api_key = None if api_key is None else _key(where, label, f"{key}.api_key", api_key)
    api_base = own.get("api_base")
    if api_base is not None:
        api_base = _env_string(where, label, f"{key}.api_base", api_base)
    timeout = _number(where, label, f"{key}.timeout", own.get("timeout"))
    prompt_format = own.get("prompt_format")
    if prompt_format is not None and not isinstance(prompt_format, str):
        raise where.error(label, f"{key}.prompt_format", "must be a format name such as 'llama3'")
    drop_params = bool(_bool(where, label, f"{key}.drop_params", own.get("drop_params")))
    num_retries = _retries(where, label, own.get("num_retries"), f"{key}.num_retries")

    supports_system_prompt = _bool(
        where, label, f"{key}.supports_system_prompt", own.get("supports_system_prompt")
    )
    template = None
    if "chat_template" in own:
        mixed = [k for k in ROLES_ONLY_KEYS if k in own]
        if mixed:
            raise where.error(
                label, f"{key}.{mixed[0]}", "give either chat_template (a Jinja template) or roles, not both"
            )
    if any(k in own for k in TEMPLATE_KEYS):
        try:
            template = make_template(
                own.get("roles"),
                own.get("initial_prompt_value", ""),
                own.get("final_prompt_value", ""),
                own.get("bos_token", ""),
                own.get("eos_token", ""),
                chat_template=own.get("chat_template"),
                supports_system_prompt=bool(supports_system_prompt),
            )
        except BadRequestError as exc:
            raise where.error(label, f"{key}.{exc.param or 'roles'}", exc.message) from None
    elif supports_system_prompt is not None:
        defaults["supports_system_prompt"] = supports_system_prompt  # a call parameter, as in LiteLLM
    try:
        params = check_params(defaults, drop_params=drop_params)
    except BadRequestError as exc:
        raise where.error(label, f"{key}.{exc.param}", exc.message) from None
    route = ModelRoute(
        model=model.strip(),
        params=params,
        api_key=api_key,
        api_base=api_base,
        format=prompt_format,
        template=template,
        timeout=timeout,
        drop_params=drop_params,
        num_retries=num_retries,
    )
    return route


def check_models(config: ProxyConfig, plugins: Plugins) -> None:
    """Resolve every route's model now (with the configured provider options), so a wrong model
    string, a missing plugin or an option a provider does not take stops the start."""
    try:
        providers = configure_providers(providers_by_name(plugins), config.provider_options)
    except ConfigError as exc:
        raise _Where(config.source).error("router_settings", exc.param, exc.message) from None
    for alias, routes in config.routes.items():
        for i, route in enumerate(routes):
            try:
                build_pipeline(
                    plugins,
                    route.model,
                    requested_format=route.format,
                    template=route.template,
                    providers=providers,
                )
            except (BadRequestError, ConfigError) as exc:  # ConfigError: e.g. jinja2 not installed
                label = config.origins.get((alias, i), f"model {alias!r}")
                field = "prompt_format" if exc.param == "format" else exc.param or "model"
                raise _Where(config.source).error(label, field, exc.message) from None


# -- small checked readers ---------------------------------------------------------------------


def _near_miss(name: str, known: Sequence[str]) -> str | None:
    """The known key ``name`` is probably a typo of (case and separators ignored), or None."""
    folded = name.strip().lower().replace("-", "_")
    if folded in known:
        return folded
    near = difflib.get_close_matches(folded, known, n=1, cutoff=0.8)
    return near[0] if near else None


def _shown(value: Any) -> str:
    """A wrong value for a start-up error: a string is not repeated (it may be a secret typed into
    the wrong field), anything else is shown bounded."""
    return "a string" if isinstance(value, str) else show(value)


def _provider_options(where: _Where, raw: Any) -> dict[str, dict[str, Any]]:
    """``router_settings.provider_options``: ``{provider name: {option: value}}``. Whether a provider
    takes an option is its own to say (checked against the loaded providers at start-up)."""
    if raw is None:
        return {}
    field = "provider_options"
    if not isinstance(raw, Mapping):
        raise where.error("router_settings", field, "must be a mapping like {replicate: {prefer_wait: 0}}")
    options: dict[str, dict[str, Any]] = {}
    for name, given in raw.items():
        if not isinstance(name, str) or not isinstance(given, Mapping):
            raise where.error(
                "router_settings", f"{field}.{name}", "must be a mapping of option names to values"
            )
        for option, value in given.items():
            if isinstance(value, str) and value.startswith(ENV_PREFIX):
                raise where.error(
                    "router_settings",
                    f"{field}.{name}.{option}",
                    f"only {' and '.join(ENV_KEYS)} may read the environment (os.environ/...)",
                )
        options[name] = {str(k): v for k, v in given.items()}
    return options


def _check_keys(
    where: _Where,
    entry: str | None,
    data: Mapping[Any, Any],
    known: Sequence[str],
    *,
    ignored: set[str] | None,
) -> None:
    """Refuse unknown keys; ``ignored=None`` means "a LiteLLM section: warn about the rest"."""
    for name in data:
        if name in known:
            continue
        field = str(name)
        near = _near_miss(field, known)
        if near:
            raise where.error(entry, field, f"unknown key; did you mean {near!r}?")
        if ignored is None or name in ignored:
            where.warn(entry, field, "a LiteLLM setting patchwire does not implement")
            continue
        raise where.error(entry, field, f"unknown key; known keys here: {', '.join(known)}")


def _section(where: _Where, data: Mapping[str, Any], name: str) -> Mapping[Any, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.error(None, name, "must be a mapping")
    return value


def _env_string(where: _Where, entry: str | None, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(entry, field, "must be a non-empty string (or os.environ/NAME)")
    if not value.startswith(ENV_PREFIX):
        return value
    name = value[len(ENV_PREFIX) :].strip()
    if not name:
        raise where.error(
            entry, field, "os.environ/ needs a variable name, e.g. os.environ/REPLICATE_API_KEY"
        )
    found = os.environ.get(name)
    if not found:
        raise where.error(
            entry, field, f"environment variable {name} is not set (or empty); export it before starting"
        )
    return found


def _secret(where: _Where, entry: str | None, field: str, value: Any) -> str:
    # Never echo a key's value in an error: it may be a real secret typed into the file.
    if not isinstance(value, str):
        raise where.error(entry, field, "must be a string (or os.environ/NAME)")
    return _env_string(where, entry, field, value)


def _retries(where: _Where, entry: str | None, value: Any, field: str = "num_retries") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise where.error(entry, field, f"must be a whole number, 0 or more, not {value!r}")
    return value


def _fallbacks(where: _Where, raw: Any, routes: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """LiteLLM's ``fallbacks: [{"llama-3": ["mistral-7b"]}, ...]``: every name must be a configured model."""
    if raw is None:
        return {}
    shape = 'a list like [{"llama-3": ["mistral-7b"]}]'
    if not isinstance(raw, list):
        raise where.error("router_settings", "fallbacks", f"must be {shape}")
    out: dict[str, tuple[str, ...]] = {}
    for index, item in enumerate(raw):
        field = f"fallbacks[{index}]"
        if not isinstance(item, Mapping) or not item:
            raise where.error("router_settings", field, f"must be a mapping; fallbacks is {shape}")
        for alias, chain in item.items():
            if alias not in routes:
                raise where.error("router_settings", field, f"{alias!r} is not a model_name in model_list")
            if isinstance(chain, str):
                chain = [chain]
            if not isinstance(chain, list) or not chain:
                raise where.error("router_settings", field, f"{alias!r} must map to a list of model names")
            for name in chain:
                if name not in routes:
                    raise where.error(
                        "router_settings",
                        field,
                        f"fallback {name!r} of {alias!r} is not a model_name in model_list",
                    )
            out[alias] = (*out.get(alias, ()), *chain)
    return out


def _key(where: _Where, entry: str | None, field: str, value: Any) -> str:
    """An API key: a secret (see ``_secret``) of visible ASCII only — a line break or control character
    would never match a request's header, or would break the upstream request."""
    key = _secret(where, entry, field, value)
    if not re.fullmatch(r"[\x21-\x7e]+", key):
        raise where.error(
            entry, field, "contains a space, a line break or another control or non-ASCII character"
        )
    return key


def _number(where: _Where, entry: str | None, field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise where.error(entry, field, f"must be a positive number, not {_shown(value)}")
    return float(value)


def _integer(where: _Where, entry: str | None, field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise where.error(entry, field, f"must be a positive integer, not {_shown(value)}")
    return value


def _bool(where: _Where, entry: str | None, field: str, value: Any) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise where.error(entry, field, f"must be true or false, not {_shown(value)}")
    return value
