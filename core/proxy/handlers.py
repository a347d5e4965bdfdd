"""The endpoints: chat completions (JSON or server-sent events), models, health and readiness."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import attrs
import orjson
from aiohttp import web

from patchwire.codec import chunk_json, dumps
from patchwire.errors import BadRequestError, NotFoundError, PatchwireError
from patchwire.proxy.error_responses import patchwire_error_dict
from patchwire.proxy.state import STATE, ProxyState, record_of
from patchwire.stream import Stream
from patchwire.text import TextStream
from patchwire.types import ChatResponse, TextCompletion
from patchwire.validation import show

log = logging.getLogger("patchwire.proxy")

#: Request fields that would let a client redirect the proxy's upstream call (and its key): refused.
SERVER_OWNED = ("api_key", "api_base", "base_url")
#: OpenAI platform features with no meaning for a hosted model: dropped rather than sent as inputs.
PLATFORM_ONLY = ("store", "service_tier")

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx and friends must not buffer the tokens
}
DONE = b"data: [DONE]\n\n"
SHUTDOWN_ERROR = {
    "message": "the proxy shut down before this stream finished (its prediction was cancelled); retry",
    "type": "service_unavailable_error",
    "param": None,
    "code": "shutting_down",
}
#: Deepest nesting of arrays/objects accepted in a request body. orjson parses up to 1024 levels, but
#: code downstream that recurses (repr() in error messages, orjson.dumps: 254) fails far sooner.
MAX_NESTING = 100


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; malformed JSON or another type is a ``BadRequestError``."""
    if not body.strip():
        raise BadRequestError(
            'the request body is empty; send a JSON object like {"model": "...", "messages": [...]}'
        )
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(
            f"the request body is not valid JSON ({exc}); check for a trailing comma or a missing quote"
        ) from None
    if not isinstance(data, dict):
        raise BadRequestError(
            f'the request body must be a JSON object like {{"model": "...", "messages": [...]}}, '
            f"not {type(data).__name__}"
        )
    if _deeper_than(data, MAX_NESTING):
        raise BadRequestError(
            f"the request body nests arrays/objects more than {MAX_NESTING} levels deep; no chat "
            "request needs that"
        )
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether ``data`` nests containers more than ``limit`` levels deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _call_arguments(
    state: ProxyState, data: dict[str, Any], field: str = "messages"
) -> tuple[str, Any, dict[str, Any]]:
    """(alias, messages, keyword arguments for ``Router.acompletion``) from a request body; with
    ``field="prompt"`` the prompt of a text completion instead of the messages."""
    config = state.config
    model = data.pop("model", None)
    if not isinstance(model, str) or not model:
        raise BadRequestError(
            f"model is missing or not a string; available models: {', '.join(config.routes)}",
            param="model",
        )
    if model not in config.routes:
        # Only configured aliases: a provider model string here would let clients spend the proxy's
        # keys on any model.
        raise NotFoundError(
            f"model {show(model)} is not served by this proxy; available models: {', '.join(config.routes)}",
            param="model",
        )
    if field not in data:
        what = "a list of {role, content} objects" if field == "messages" else "a string"
        raise BadRequestError(f"{field} is missing; give {what}", param=field)
    messages = data.pop(field)
    for name in SERVER_OWNED:
        if name in data:
            raise BadRequestError(
                f"{name} cannot be set by a request; the proxy's config sets it for each model", param=name
            )
    if field == "messages" and "prompt" in data:
        raise BadRequestError(
            "prompt cannot be set by a request: the proxy builds it from messages with the model's "
            "format (use /v1/chat/completions with messages)",
            param="prompt",
        )
    fallbacks = data.get("fallbacks")
    if isinstance(fallbacks, list):
        # Only configured models: a provider model string would spend the proxy's keys on any model.
        for name in fallbacks:
            if name not in config.routes:
                raise BadRequestError(
                    f"fallbacks names {show(name)}, which this proxy does not serve; available models: "
                    f"{', '.join(config.routes)}",
                    param="fallbacks",
                )
    mock = data.get("mock_response")
    if mock is not None and not isinstance(mock, str):
        raise BadRequestError("mock_response must be a string", param="mock_response")
    if "self" in data:  # would collide with the router method's own argument
        raise BadRequestError("self is not a parameter any model takes", param="self")
    for name in PLATFORM_ONLY:
        data.pop(name, None)
    stream = data.pop("stream", None)
    data["stream"] = False if stream is None else stream
    # The route's own timeout and drop_params apply in the router, which also checks the request's
    # (a request may shorten its route's deadline, never lengthen it). JSON null means "not given".
    for name in ("timeout", "drop_params"):
        if name in data and data[name] is None:
            del data[name]
    return model, messages, data


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    data = parse_body(await request.read())
    model, messages, kwargs = _call_arguments(state, data)
    record = record_of(request)
    record.model = model
    result = await state.router.acompletion(model, messages, **kwargs)
    if isinstance(result, ChatResponse):
        record.prediction_id = result.id
        # The client gets back the name it asked for, not the upstream model string.
        return web.Response(body=dumps(attrs.evolve(result, model=model)), content_type="application/json")
    return await _stream(request, result, lambda chunk: chunk_json(chunk, model))


async def text_completions(request: web.Request) -> web.StreamResponse:
    """OpenAI's legacy ``/v1/completions``: the prompt reaches the model as written."""
    state = request.app[STATE]
    data = parse_body(await request.read())
    if "messages" in data:
        raise BadRequestError(
            "/v1/completions takes prompt, not messages (use /v1/chat/completions for messages)",
            param="messages",
        )
    model, prompt, kwargs = _call_arguments(state, data, "prompt")
    record = record_of(request)
    record.model = model
    result = await state.router.atext_completion(model, prompt, **kwargs)
    if isinstance(result, TextCompletion):
        record.prediction_id = result.id
        return web.Response(body=dumps(attrs.evolve(result, model=model)), content_type="application/json")
    return await _stream(request, result, lambda piece: dumps(attrs.evolve(piece, model=model)))


async def _stream(
    request: web.Request, stream: Stream | TextStream, encode: Callable[[Any], bytes]
) -> web.StreamResponse:
    """Write each chunk as a server-sent event; the stream is closed (upstream cancelled) however this
    ends — finished, failed, or the client gone (the task is cancelled or a write finds the socket shut)."""
    record = record_of(request)
    try:
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        try:
            async for chunk in stream:
                if record.prediction_id is None:
                    record.prediction_id = chunk.id
                await response.write(b"data: " + encode(chunk) + b"\n\n")
            await response.write(DONE)
        except PatchwireError as exc:
            # The status line is gone already: the error is the last event, as OpenAI's API does it.
            record.stream_error = type(exc).__name__
            error = patchwire_error_dict(exc, request.app[STATE].upstream_bases)
            await response.write(b"data: " + orjson.dumps({"error": error}) + b"\n\n")
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not request.app[STATE].cancelling or task is None:
                raise
            # Shutdown outlived the grace period: end the stream with an error the client can act on.
            task.uncancel()
            record.stream_error = "shutdown"
            await response.write(b"data: " + orjson.dumps({"error": SHUTDOWN_ERROR}) + b"\n\n")
        except ConnectionError:
            raise
        except Exception:
            log.exception("unexpected error while streaming %s", record.model)
            record.stream_error = "internal"
            body = {
                "error": {
                    "message": "internal error in the proxy; see its log",
                    "type": "api_error",
                    "param": None,
                    "code": None,
                }
            }
            await response.write(b"data: " + orjson.dumps(body) + b"\n\n")
        await response.write_eof()
        return response
    finally:
        await stream.aclose()


async def list_models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = [_model_object(state, alias) for alias in state.config.routes]
    return web.json_response({"object": "list", "data": data}, dumps=_dumps)


async def get_model(request: web.Request) -> web.Response:
    state = request.app[STATE]
    alias = request.match_info["model"]
    if alias not in state.config.routes:
        raise NotFoundError(
            f"model {show(alias)} is not served by this proxy; available models: "
            f"{', '.join(state.config.routes)}",
            param="model",
        )
    return web.json_response(_model_object(state, alias), dumps=_dumps)


def _model_object(state: ProxyState, alias: str) -> dict[str, Any]:
    return {"id": alias, "object": "model", "created": state.created, "owned_by": "patchwire"}


async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers. No key needed, nothing about the config revealed."""
    return web.json_response({"status": "ok"}, dumps=_dumps)


async def readiness(request: web.Request) -> web.Response:
    """Readiness: 200 while serving, 503 once shutdown has begun (load balancers stop sending).
    No key needed (probes carry none), so it names no model."""
    state = request.app[STATE]
    if state.draining:
        return web.json_response({"status": "draining"}, status=503, dumps=_dumps)
    return web.json_response({"status": "ready"}, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()
