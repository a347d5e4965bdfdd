"""The simulator's HTTP layer: routes, request parsing, auth, fault injection and rate limits.

The predictions themselves (creation, ids, listing order, waits) live in `store.py`; what a
prediction looks like over time in `predictions.py`; models and versions in `catalog.py`.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import attrs
import orjson
from aiohttp import web

from patchwire.listen import start_site

from .catalog import (
    Deployment,
    DeploymentSpec,
    Model,
    ModelSpec,
    build_catalog,
    builtin_deployments,
    builtin_models,
    deployment_json,
    model_json,
    version_json,
)
from .faults import ROUTE_KINDS, FaultPlan, Faults, SimStats
from .files import ACCOUNT_USERNAME, FileStore, UploadedFile
from .http import (
    RequestRecord,
    drop_connection,
    invalid_version,
    json_response,
    not_found,
    parse_duration,
    parse_prefer,
    problem,
    query_time,
    unauthenticated,
)
from .limits import AccountLimits, RateLimits
from .predictions import (
    Prediction,
    closing_events,
    llama3_error,
    output_events,
    parse_last_event_id,
    render,
)
from .published import published_models
from .store import PredictionStore
from .validate import problem_422, validate_body, validate_input

_BODY_KEYS = frozenset({"input", "stream", "webhook", "webhook_completed", "webhook_events_filter"})
_VERSION_BODY_KEYS = _BODY_KEYS | {"version"}
# Per-request state; RequestKey exists from aiohttp 3.13 (plain strings warn there).
_RECORD: Any = web.RequestKey("record", RequestRecord) if hasattr(web, "RequestKey") else "record"
_FAULT: Any = web.RequestKey("fault", str) if hasattr(web, "RequestKey") else "fault"


@attrs.define(kw_only=True)
class SimulatorConfig:
    """How the simulated Replicate behaves. Times are seconds."""

    latency: float = 0.05  # create -> first token (queue + setup)
    cold_boot: float = 0.0  # extra `starting` time for the first prediction of each model
    tokens: int = 16  # output chunks per prediction (fewer if the input's max asks)
    token_interval: float = 0.0  # between chunks
    faults: Faults = attrs.Factory(Faults)
    api_keys: Collection[str] | None = None  # None: any non-empty token
    rate_limit_per_minute: int | None = None  # creates per minute per token (a burst of as many)
    rate_limits: RateLimits | None = None  # Replicate's limits per token (see limits.py); None: none
    sync_status: str = attrs.field(
        default="succeeded", validator=attrs.validators.in_(("succeeded", "processing"))
    )
    extra_models: Sequence[ModelSpec] = ()
    extra_deployments: Sequence[DeploymentSpec] = ()
    builtin_models: bool = True
    min_cancel_after: float = 5.0  # Replicate's floor; lower it to test Cancel-After quickly
    request_log_size: int = 1000  # entries kept in `sim.requests` (0: none)
    sse_keepalive: float | None = None  # send `: keepalive` comments this often while idle
    max_upload_bytes: int = 100 * 1024**2  # the largest file `POST /v1/files` takes


class ReplicateSimulator:
    """The simulated API: `app` (aiohttp.web.Application), `serve()`, and inspection helpers.

    This class is the HTTP layer (routes, request parsing, auth, faults, rate limits); the
    predictions themselves live in `store` (a `PredictionStore`).
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        models = default_models() if self.config.builtin_models else []
        deployments = builtin_deployments() if self.config.builtin_models else []
        self.catalog = build_catalog(
            [*models, *self.config.extra_models], [*deployments, *self.config.extra_deployments]
        )
        self.store = PredictionStore(lambda: self.config, id_salt=self.config.faults.seed)
        self.uploads = FileStore(self.config.max_upload_bytes, id_salt=self.config.faults.seed)
        self.stats = SimStats()
        self.requests: collections.deque[RequestRecord] = collections.deque(
            maxlen=self.config.request_log_size
        )
        self.fault_plan = FaultPlan(self.config.faults)
        limits = self.config.rate_limits
        if limits is None and self.config.rate_limit_per_minute:
            per_minute = self.config.rate_limit_per_minute
            limits = RateLimits(
                creates_per_minute=per_minute, creates_burst=per_minute, others_per_minute=None
            )
        self._limits = AccountLimits(limits) if limits is not None else None
        keys = self.config.api_keys
        self._api_keys = frozenset(keys) if keys is not None else None
        self.app = self._build_app()

    # ---- public helpers -------------------------------------------------------------------

    @property
    def predictions(self) -> dict[str, Prediction]:
        """Every prediction made (id -> `Prediction`), in creation order."""
        return self.store.predictions

    @property
    def files(self) -> dict[str, UploadedFile]:
        """Every file uploaded through `POST /v1/files` (id -> `UploadedFile`, with `.content`)."""
        return self.uploads.files

    def file(self, url: str) -> UploadedFile | None:
        """The uploaded file a model input names (its `urls.get`), e.g. to check what reached a model."""
        return self.uploads.find(url)

    def download_url(self, url: str, expires_in: float = 3600.0) -> str:
        """A signed `/v1/files/{id}/download` link to the bytes of the file `url` (its `urls.get`, or
        its id) names, good for `expires_in` seconds; it needs no token, like Replicate's."""
        return self.uploads.download_url(url, expires_in)

    def add_model(
        self,
        owner: str,
        name: str,
        *,
        schema_inputs: Mapping[str, Mapping[str, Any]] | str = "llama2",
        required: Sequence[str] = ("prompt",),
        versions: Sequence[str] = (),
        official: bool = False,
        hidden_version: str | None = None,
        family: str = "",
        description: str = "",
        components: Mapping[str, Mapping[str, Any]] | None = None,
        output: Mapping[str, Any] | None = None,
        think: bool = False,
    ) -> Model:
        """Register a model. `schema_inputs` is a Cog property map or a preset name
        ("llama3", "llama2", "mistral", "t5", "vicuna"); versions may be any strings.
        `components`: schemas the inputs refer to (`allOf: [{"$ref": "#/components/schemas/X"}]`);
        `output`: the output schema (default an iterator of strings; `{"type": "string"}` for one
        string); `think`: the output starts with `<think>…</think>` like a reasoning model's."""
        spec = ModelSpec(
            owner=owner,
            name=name,
            inputs=schema_inputs,
            required=tuple(required),
            versions=tuple(versions),
            official=official,
            hidden_version=hidden_version,
            family=family,
            description=description,
            components=dict(components or {}),
            output=output,
            think=think,
        )
        return self.catalog.add_model(spec)

    def add_deployment(self, owner: str, name: str, model: str, version: str | None = None) -> Deployment:
        """Register deployment `owner/name` running `model` ("owner/name") at `version`."""
        spec = DeploymentSpec(owner=owner, name=name, model=model, version=version)
        return self.catalog.add_deployment(spec)

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault rates (and restart their random draws); queued `inject_fault` faults
        are dropped."""
        self.config.faults = faults
        self.fault_plan = FaultPlan(faults)

    def inject_fault(self, fault: str, *, route: str | None = None, times: int = 1) -> None:
        """Make the next `times` requests of route kind `route` (None: any) suffer `fault`:
        one of FAULT_KINDS, or "fail" (the next created prediction fails)."""
        if route is not None and route not in ROUTE_KINDS:
            raise ValueError(f"unknown route kind {route!r}; expected one of {sorted(ROUTE_KINDS)}")
        self.fault_plan.force(fault, route, times)

    def make_cold(self, model: str | None = None) -> None:
        """Let the next prediction of `model` ("owner/name"; None: all) cold-boot again."""
        self.store.make_cold(model)

    def running(self) -> int:
        """Predictions that are not terminal now."""
        return self.store.running()

    def reset(self) -> None:
        """Forget predictions, uploaded files, requests and counters (models and faults stay)."""
        self.store.clear()
        self.uploads.files.clear()
        self.requests.clear()
        self.stats = SimStats()

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on `host:port` (0: a free port) and yield the base URL."""
        runner = web.AppRunner(self.app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        self.store.closing = False
        try:
            yield await start_site(runner, host, port)
        finally:
            self.store.close()
            await runner.cleanup()

    # ---- plumbing -------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=16 * 1024**2)
        app[_SIM_KEY] = self
        add = app.router.add_route
        create_model = self._create_handler(_BODY_KEYS, ("input",), self._official_model)
        create_version = self._create_handler(_VERSION_BODY_KEYS, ("version", "input"), self._by_version)
        create_deployment = self._create_handler(_BODY_KEYS, ("input",), self._deployment_target)
        add("POST", "/v1/models/{owner}/{name}/predictions", create_model, name="create_model")
        add("POST", "/v1/predictions", create_version, name="create_version")
        add("POST", "/v1/deployments/{owner}/{name}/predictions", create_deployment, name="create_deployment")
        add("GET", "/v1/predictions", self._list, name="list")
        add("GET", "/v1/predictions/{id}", self._get, name="get")
        add("POST", "/v1/predictions/{id}/cancel", self._cancel, name="cancel")
        add("GET", "/v1/streams/{id}", self._stream, name="stream")
        add("GET", "/v1/models/{owner}/{name}", self._model, name="model")
        add("GET", "/v1/models/{owner}/{name}/versions", self._versions, name="version_list")
        add("GET", "/v1/models/{owner}/{name}/versions/{id}", self._version, name="version_get")
        add("GET", "/v1/deployments/{owner}/{name}", self._deployment, name="deployment")
        add("GET", "/v1/account", self._account, name="account")
        add("POST", "/v1/files", self._upload, name="files_create")
        add("GET", "/v1/files", self._list_files, name="files_list")
        add("GET", "/v1/files/{id}", self._get_file, name="files_get")
        add("GET", "/v1/files/{id}/download", self._download, name="files_download")
        add("DELETE", "/v1/files/{id}", self._delete_file, name="files_delete")
        add("GET", "/p/{id}", self._web, name="web")
        return app

    def _token(self, request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() not in ("bearer", "token") or not token:
            return None
        if self._api_keys is not None and token not in self._api_keys:
            return None
        return token

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.stats.requests_total += 1
        name = request.match_info.route.name or "other"
        kind = name.partition("_")[0]
        self.stats.by_route[kind] += 1
        if self.requests.maxlen:
            record = RequestRecord(
                request.method,
                request.path,
                request.query_string,
                {k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            )
            self.requests.append(record)
            request[_RECORD] = record
        fault = self.fault_plan.draw(kind)
        if fault is not None:
            injected = await self._inject(request, fault)
            if injected is not None:
                return injected
            request[_FAULT] = fault
        if kind not in ("stream", "web") and name != "files_download" and self._token(request) is None:
            self.stats.unauthenticated += 1
            return unauthenticated()
        if self._limits is not None and kind != "web" and (throttled := self._throttled(request, kind)):
            return throttled
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            return problem(exc.status, exc.reason)
        return response

    async def _inject(self, request: web.Request, fault: str) -> web.StreamResponse | None:
        """Faults that replace the whole answer; None for those the handler carries out."""
        if fault in ("drop_after_create", "cut_stream"):
            return None
        self.stats.faults[fault] += 1
        if fault == "429":
            seconds = self.fault_plan.retry_after()
            detail = f"Request was throttled. Expected available in {seconds} seconds."
            return problem(429, detail, headers={"Retry-After": str(seconds)}, retry_after=seconds)
        if fault == "5xx":
            status = self.fault_plan.status_5xx()
            return problem(status, "Internal server error (simulated fault)")
        if fault == "hang":
            await self._hang(request)
        return drop_connection(request)

    async def _hang(self, request: web.Request) -> None:
        # handler_cancellation ends this when the client leaves; the poll covers mounted apps.
        while not self.store.closing:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await self.store.sleep("", 0.25)

    def _base(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    def _lookup(self, request: web.Request) -> Prediction | None:
        return self.store.predictions.get(request.match_info["id"])

    # ---- create ---------------------------------------------------------------------------

    def _create_handler(
        self, allowed: Collection[str], required: Sequence[str], resolve: _Resolver
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """One create endpoint: the shared prologue (rate limit, body, target), then `_create`."""

        async def create(request: web.Request) -> web.StreamResponse:
            body = await self._read_body(request, allowed, required)
            if isinstance(body, web.Response):
                return body
            target = resolve(request, body)
            if isinstance(target, web.Response):
                return target
            return await self._create(request, body, *target)

        return create

    def _official_model(self, request: web.Request, body: dict[str, Any]) -> _Target | web.Response:
        model = self.catalog.model(request.match_info["owner"], request.match_info["name"])
        if model is None:
            return not_found("The requested model does not exist.")
        if not model.official:
            return not_found(
                f"{model.ref} is not an official model; create predictions for it with "
                "POST /v1/predictions and a version."
            )
        return model, model.default_version, None

    def _by_version(self, request: web.Request, body: dict[str, Any]) -> _Target | web.Response:
        resolved = self.catalog.resolve_version(body["version"])
        if resolved is None:
            return invalid_version()
        return resolved[0], resolved[1], None

    def _deployment_target(self, request: web.Request, body: dict[str, Any]) -> _Target | web.Response:
        deployment = self.catalog.deployment(request.match_info["owner"], request.match_info["name"])
        if deployment is None:
            return not_found("The requested deployment does not exist.")
        return deployment.model, deployment.version, deployment

    async def _read_body(
        self, request: web.Request, allowed: Collection[str], required: Sequence[str]
    ) -> Any:
        """The JSON body, or an error response."""
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return problem(400, "The request body is not valid JSON", "Invalid JSON")
        if _RECORD in request:
            request[_RECORD].body = body
        problems = validate_body(body, allowed, required)
        if problems:
            return json_response(problem_422(problems), 422)
        return body

    def _throttled(self, request: web.Request, kind: str) -> web.Response | None:
        """429 when the token's bucket for this kind of request is empty (a stream counts here, once,
        as it opens)."""
        assert self._limits is not None
        refused = self._limits.check(self._token(request) or "", kind == "create")
        if refused is None:
            return None
        seconds, detail = refused
        self.stats.rate_limited += 1
        self.stats.refused[kind] += 1
        return problem(429, detail, headers={"Retry-After": str(seconds)}, retry_after=seconds)

    async def _create(
        self,
        request: web.Request,
        body: dict[str, Any],
        model: Model,
        version: str,
        deployment: Deployment | None,
    ) -> web.StreamResponse:
        values: dict[str, Any] = body["input"]
        problems = validate_input(model.inputs, model.required, values, model.components)
        if problems:
            return json_response(problem_422(problems), 422)
        cancel_after = None
        if (header := request.headers.get("Cancel-After")) is not None:
            cancel_after = parse_duration(header)
            if cancel_after is None:
                return problem(400, f"Invalid Cancel-After duration: {header!r}", "Invalid header")
        pred = self.store.create(
            model=model,
            version=version,
            deployment=deployment,
            values=values,
            error=self._planned_error(model, values),
            cancel_after=cancel_after,
            stream=body.get("stream"),
            webhook=body.get("webhook"),
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
        )
        self.stats.created += 1
        if request.get(_FAULT) == "drop_after_create":
            self.stats.faults["drop_after_create"] += 1
            return drop_connection(request)
        headers = {"Location": f"{self._base(request)}/v1/predictions/{pred.id}"}
        prefer = parse_prefer(request.headers.get("Prefer"))
        as_status: str | None = "starting"
        if prefer is not None:
            headers["Preference-Applied"] = prefer[1]
            if await self.store.wait_terminal(pred, prefer[0]):
                as_status = None
                if pred.end_status == "succeeded" and self.config.sync_status == "processing":
                    as_status = "processing"
        data = render(pred, self._base(request), time.monotonic(), as_status=as_status)
        return json_response(data, 201, headers)

    def _planned_error(self, model: Model, values: Mapping[str, Any]) -> str | None:
        fail = values.get("__fail__")
        if fail:
            self.stats.faults["fail"] += 1
            return fail if isinstance(fail, str) else "Simulated failure (__fail__ input)"
        if model.family == "llama3" and (error := llama3_error(values)) is not None:
            return error
        if self.fault_plan.fail_prediction():
            self.stats.faults["fail"] += 1
            return "Prediction failed (simulated fault)"
        return None

    # ---- files ----------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        return await self.uploads.upload(request, self._token(request) or "", self._base(request))

    async def _get_file(self, request: web.Request) -> web.StreamResponse:
        return self.uploads.get(request.match_info["id"], self._token(request) or "")

    async def _list_files(self, request: web.Request) -> web.StreamResponse:
        owner = self._token(request) or ""
        return self.uploads.listing(owner, request.query.get("cursor"), self._base(request))

    async def _download(self, request: web.Request) -> web.StreamResponse:
        # A signed link, like Replicate's: the signature stands in for the token.
        return self.uploads.download(request.match_info["id"], request.query)

    async def _delete_file(self, request: web.Request) -> web.StreamResponse:
        return self.uploads.delete(request.match_info["id"], self._token(request) or "")

    # ---- read, cancel, list ---------------------------------------------------------------

    async def _get(self, request: web.Request) -> web.StreamResponse:
        pred = self._lookup(request)
        if pred is None:
            return not_found()
        return json_response(render(pred, self._base(request), time.monotonic()))

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        self.stats.cancel_requests += 1
        pred = self._lookup(request)
        if pred is None:
            return not_found()
        if self.store.cancel(pred):
            self.stats.canceled += 1
        return json_response(render(pred, self._base(request), time.monotonic()))

    async def _list(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        try:
            after = query_time(query.get("created_after"))
            before = query_time(query.get("created_before"))
            cursor = int(query["cursor"]) if "cursor" in query else None
        except ValueError as exc:
            return problem(400, f"Invalid query parameter: {exc}", "Invalid query")
        page, next_cursor = self.store.page(after, before, cursor)
        base = self._base(request)
        now = time.monotonic()
        results = [render(p, base, now) for p in page]
        next_url = None
        if next_cursor is not None:
            params = {k: v for k, v in query.items() if k != "cursor"}
            params["cursor"] = str(next_cursor)
            next_url = f"{base}/v1/predictions?{urlencode(params)}"
        return json_response({"next": next_url, "previous": None, "results": results})

    # ---- stream ---------------------------------------------------------------------------

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        pred = self._lookup(request)
        if pred is None:
            return not_found()
        self.stats.streams += 1
        after = parse_last_event_id(request.headers.get("Last-Event-ID"))
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        cut_after = None
        if request.get(_FAULT) == "cut_stream":
            cut_after = self.fault_plan.cut_point(pred.final_count - (after + 1))
        with contextlib.suppress(ConnectionError):
            await self._pump(request, response, pred, after, cut_after)
        return response

    async def _pump(
        self,
        request: web.Request,
        response: web.StreamResponse,
        pred: Prediction,
        after: int,
        cut_after: int | None,
    ) -> None:
        """Write events as they become due; `after` is the Last-Event-ID sequence number."""
        sent = after + 1
        written = 0
        keepalive = self.config.sse_keepalive
        last_write = time.monotonic()
        while True:
            now = time.monotonic()
            stop = pred.visible(now)
            if cut_after is not None:
                stop = min(stop, sent + cut_after - written)
            if sent < stop:
                await response.write(output_events(pred, sent, stop))
                written, sent, last_write = written + stop - sent, stop, now
                if cut_after is not None and written >= cut_after:
                    self.stats.faults["cut_stream"] += 1
                    drop_connection(request)
                    return
                continue
            if pred.is_terminal(now):
                events = closing_events(pred, pred.final_count)
                await response.write(b"".join(data for seq, data in events if seq > after))
                return
            if self.store.closing:
                return
            if keepalive is not None and now - last_write >= keepalive:
                await response.write(b": keepalive\n\n")
                last_write = now
            delay = pred.next_change(now) - now
            await self.store.sleep(pred.id, min(delay, keepalive) if keepalive else delay)

    # ---- models, versions, account ----------------------------------------------------------

    def _model_or_none(self, request: web.Request) -> Model | None:
        return self.catalog.model(request.match_info["owner"], request.match_info["name"])

    async def _model(self, request: web.Request) -> web.StreamResponse:
        model = self._model_or_none(request)
        return json_response(model_json(model)) if model else not_found()

    async def _versions(self, request: web.Request) -> web.StreamResponse:
        model = self._model_or_none(request)
        if model is None:
            return not_found()
        results = [version_json(model, v) for v in model.versions]
        return json_response({"next": None, "previous": None, "results": results})

    async def _version(self, request: web.Request) -> web.StreamResponse:
        model = self._model_or_none(request)
        version = request.match_info["id"]
        if model is None or version not in model.versions:
            return not_found()
        return json_response(version_json(model, version))

    async def _deployment(self, request: web.Request) -> web.StreamResponse:
        dep = self.catalog.deployment(request.match_info["owner"], request.match_info["name"])
        return json_response(deployment_json(dep)) if dep else not_found()

    async def _account(self, request: web.Request) -> web.StreamResponse:
        return json_response(
            {"type": "user", "username": ACCOUNT_USERNAME, "name": "Replicate Simulator", "github_url": None}
        )

    async def _web(self, request: web.Request) -> web.StreamResponse:
        pred = self._lookup(request)
        if pred is None:
            raise web.HTTPNotFound()
        text = f"prediction {pred.id}: {pred.status()} ({pred.model})\n"
        return web.Response(text=text)


def default_models() -> list[ModelSpec]:
    """The built-in models, then every published model (from `models.json`) not among them."""
    builtin = builtin_models()
    taken = {spec.ref.lower() for spec in builtin}
    return [*builtin, *(spec for spec in published_models() if spec.ref.lower() not in taken)]


_Target = tuple[Model, str, Deployment | None]
_Resolver = Callable[[web.Request, dict[str, Any]], "_Target | web.Response"]
_SIM_KEY = web.AppKey("replicate_simulator", ReplicateSimulator)
