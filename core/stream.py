"""Streams of chunks as the caller holds them: async (``Stream``) and blocking (``SyncStream``).

Both clean up after themselves: closing one early, leaving its ``with`` block, or cancelling the task
reading it closes the provider's iterator, which cancels the upstream prediction.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import aiohttp

from patchwire.errors import ServiceUnavailableError, Timeout
from patchwire.types import ChatChunk

T = TypeVar("T")


class Stream:
    """An async iterator of ``ChatChunk``; also an async context manager."""

    def __init__(self, inner: AsyncIterator[ChatChunk], on_close: Callable[[], None] | None = None) -> None:
        self._inner = inner
        self._on_close = on_close
        self._closed = False

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> ChatChunk:
        if self._closed:
            raise StopAsyncIteration
        try:
            return await self._inner.__anext__()
        except BaseException as exc:
            # However the stream ends (done, error, cancelled), the provider's iterator is closed.
            await self.aclose()
            if isinstance(exc, TimeoutError):
                raise Timeout("the stream passed its deadline; pass a larger timeout=") from None
            if isinstance(exc, aiohttp.ClientError):
                # aiohttp's errors carry request headers (the key): never pass one on.
                raise ServiceUnavailableError(
                    f"network error while streaming: {type(exc).__name__}"
                ) from None
            raise

    async def aclose(self) -> None:
        """Stop reading; the provider cancels the prediction if it has not finished."""
        if self._closed:
            return
        self._closed = True
        try:
            aclose = getattr(self._inner, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            self._release()

    def _release(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # An abandoned stream: the loop finalises the provider's generator; give back the slot.
        self._release()


class LoopThread:
    """A private event loop on a worker thread, for blocking calls made from any context
    (including inside a running loop, such as a Jupyter cell)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="patchwire")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.run(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class SyncStream:
    """A blocking iterator of ``ChatChunk`` (``completion(..., stream=True)``); also a context manager."""

    def __init__(self, start: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self._runner = LoopThread()
        try:
            self._stream: Stream = self._runner.run(start())
        except BaseException:
            self._runner.close()
            raise

    def __iter__(self) -> Iterator[ChatChunk]:
        return self

    def __next__(self) -> ChatChunk:
        try:
            return self._runner.run(self._stream.__anext__())
        except StopAsyncIteration:
            self.close()
            raise StopIteration from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._runner.loop.is_closed():
            return
        try:
            self._runner.run(self._stream.aclose())
        finally:
            self._runner.close()

    def __enter__(self) -> SyncStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
