"""The module-level API: ``acompletion``, ``completion`` and ``register_prompt_template``.

They use one default ``Router`` per process; build a ``Router`` yourself for separate limits or aliases.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload

from patchwire.router import Router
from patchwire.stream import LoopThread, Stream, SyncStream
from patchwire.text import TextStream
from patchwire.types import ChatResponse, TextCompletion

_default: Router | None = None
_lock = threading.Lock()


def get_router() -> Router:
    """The default router behind the module-level functions."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Router()
    return _default


@overload
async def acompletion(
    model: str,
    messages: Iterable[Any],
    *,
    api_key: str | None = ...,
    api_base: str | None = ...,
    stream: Literal[False] = ...,
    timeout: float | None = ...,
    **params: Any,
) -> ChatResponse: ...


@overload
async def acompletion(
    model: str,
    messages: Iterable[Any],
    *,
    api_key: str | None = ...,
    api_base: str | None = ...,
    stream: Literal[True],
    timeout: float | None = ...,
    **params: Any,
) -> Stream: ...


async def acompletion(
    model: str,
    messages: Iterable[Any],
    *,
    api_key: str | None = None,
    api_base: str | None = None,
    stream: bool = False,
    timeout: float | None = None,
    **params: Any,
) -> ChatResponse | Stream:
    """Chat completion with an OpenAI-shaped result.

    ``model`` is ``<provider>/<model>`` (``replicate/meta/meta-llama-3-8b-instruct``); ``messages`` are
    OpenAI chat messages; ``params`` are OpenAI parameters (``max_tokens``, ``temperature``, ``stop``,
    ...) and provider-specific ones (``top_k``, ``min_tokens``, ``seed``, ...), plus ``format=`` to force
    a prompt format and ``drop_params=True`` to drop what the model cannot take. With ``stream=True``
    the await starts the call and returns an async iterator of ``ChatChunk``.
    """
    return await get_router().acompletion(
        model,
        messages,
        api_key=api_key,
        api_base=api_base,
        stream=stream,
        timeout=timeout,
        **params,
    )


def completion(
    model: str,
    messages: Iterable[Any],
    *,
    stream: bool = False,
    **kwargs: Any,
) -> ChatResponse | SyncStream:
    """The blocking ``acompletion``; with ``stream=True`` a plain iterator of ``ChatChunk``.

    Works inside a running event loop too (a Jupyter cell): the call then runs on a loop of its own
    in a worker thread.
    """
    router = get_router()
    if stream:
        return SyncStream(lambda: router.acompletion(model, messages, stream=True, **kwargs))
    coro = router.acompletion(model, messages, stream=False, **kwargs)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        result = asyncio.run(coro)
    else:
        runner = LoopThread()
        try:
            result = runner.run(coro)
        finally:
            runner.close()
    assert isinstance(result, ChatResponse)
    return result


async def atext_completion(
    model: str, prompt: Any, *, stream: bool = False, **kwargs: Any
) -> TextCompletion | TextStream:
    """A text completion (OpenAI's legacy completions, LiteLLM's ``text_completion``): ``prompt`` (a
    string or a list of strings) reaches the model exactly as written — no chat format, no model
    template — and the answer is a ``TextCompletion`` (``response.choices[0].text``). With
    ``stream=True``, an async iterator of ``TextCompletion`` pieces. Takes ``acompletion``'s keyword
    arguments, and ``echo=True`` to have the prompt repeated before each answer."""
    return await get_router().atext_completion(model, prompt, stream=stream, **kwargs)


def text_completion(
    model: str, prompt: Any, *, stream: bool = False, **kwargs: Any
) -> TextCompletion | SyncStream:
    """The blocking ``atext_completion``; with ``stream=True`` a plain iterator of ``TextCompletion``."""
    router = get_router()
    if stream:
        return SyncStream(lambda: router.atext_completion(model, prompt, stream=True, **kwargs))
    result = _run_blocking(router.atext_completion(model, prompt, stream=False, **kwargs))
    assert isinstance(result, TextCompletion)
    return result


def _run_blocking(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    runner = LoopThread()
    try:
        return runner.run(coro)
    finally:
        runner.close()


def register_prompt_template(
    model: str,
    roles: Mapping[str, Mapping[str, str]] | None = None,
    initial_prompt_value: str = "",
    final_prompt_value: str = "",
    bos_token: str = "",
    eos_token: str = "",
    tokenizer_config: Mapping[str, Any] | None = None,
    supports_system_prompt: bool = False,
) -> None:
    """Use a custom prompt template for ``model``; it beats every built-in.

    Either LiteLLM's roles format (``roles``, ``initial_prompt_value``, ...) or the model's own Hugging
    Face chat template: ``tokenizer_config={"chat_template": ..., "bos_token": ..., "eos_token": ...}``
    (rendered in a sandbox; needs ``pip install 'patchwire[templates]'``). ``supports_system_prompt``
    sends the first system message as the model's ``system_prompt`` input instead of into the prompt.
    """
    get_router().register_prompt_template(
        model,
        roles=roles,
        initial_prompt_value=initial_prompt_value,
        final_prompt_value=final_prompt_value,
        bos_token=bos_token,
        eos_token=eos_token,
        tokenizer_config=tokenizer_config,
        supports_system_prompt=supports_system_prompt,
    )
