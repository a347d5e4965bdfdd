"""Text completions: OpenAI's legacy completions API (``/v1/completions``), LiteLLM's ``text_completion``.

The prompt reaches the model exactly as written — no chat format, and no model template around it (the
``raw`` format) — which is how base models such as LLaMA-2-7B-32K or flan-t5 are meant to be called.
The answer is OpenAI's ``text_completion`` object; a stream is a series of them, one piece of text each.
A list of prompts makes one prediction per prompt, answered as one choice each (``index`` = position).
Its ``model`` is what the chat answer under it names (the upstream model string, as LiteLLM's is);
the proxy puts back the name its client asked for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any

from patchwire.errors import BadRequestError
from patchwire.formatting import RAW
from patchwire.stream import Stream
from patchwire.types import ChatResponse, TextChoice, TextCompletion, Usage
from patchwire.validation import show

if TYPE_CHECKING:
    from patchwire.router import Router

#: Most prompts one call may carry (each one is a prediction).
MAX_PROMPTS = 16
#: OpenAI's legacy parameters that have no meaning for these models: refused unless at their no-op value.
NO_OP = {"best_of": 1, "suffix": None, "logprobs": None}


def check_prompts(prompt: Any) -> list[str]:
    """``prompt`` (a string or a list of strings) as a list; anything else is a ``BadRequestError``."""
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list | tuple) and prompt and all(isinstance(p, str) for p in prompt):
        if len(prompt) > MAX_PROMPTS:
            raise BadRequestError(
                f"prompt has {len(prompt)} strings; at most {MAX_PROMPTS} per call (each is a "
                "prediction): split them over several calls",
                param="prompt",
            )
        return list(prompt)
    if isinstance(prompt, list | tuple) and prompt and all(isinstance(p, int) for p in prompt):
        raise BadRequestError(
            "prompt is a list of token ids; send the text instead (the models here take text)",
            param="prompt",
        )
    raise BadRequestError(
        f"prompt must be a string or a non-empty list of strings, not {show(prompt)}", param="prompt"
    )


def _check_legacy(params: dict[str, Any]) -> None:
    for name, no_op in NO_OP.items():
        if name in params:
            value = params.pop(name)
            if value is not None and value != no_op:
                raise BadRequestError(
                    f"{name}={show(value)} is not supported for text completions here; leave it out",
                    param=name,
                )
    if "format" in params:
        raise BadRequestError(
            "format= does not apply to text completions: the prompt is sent as written (use "
            "completion() with messages to have a chat format applied)",
            param="format",
        )
    if "messages" in params:
        raise BadRequestError("text completions take prompt=, not messages=", param="messages")


async def atext_completion(
    router: Router,
    model: str,
    prompt: Any,
    *,
    stream: bool = False,
    echo: bool = False,
    **params: Any,
) -> TextCompletion | TextStream:
    """A text completion through ``router`` (see the module docstring)."""
    prompts = check_prompts(prompt)
    if not isinstance(echo, bool):
        raise BadRequestError(f"echo must be true or false, not {show(echo)}", param="echo")
    _check_legacy(params)

    def messages(text: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": text}]

    if stream:
        first = await router.acompletion(model, messages(prompts[0]), stream=True, format=RAW, **params)
        assert isinstance(first, Stream)

        async def start(text: str) -> Stream:
            result = await router.acompletion(model, messages(text), stream=True, format=RAW, **params)
            assert isinstance(result, Stream)
            return result

        return TextStream(_text_chunks(first, start, prompts, echo), first)

    calls = [
        router.acompletion(model, messages(text), stream=False, format=RAW, **params) for text in prompts
    ]
    if len(calls) == 1:
        responses = [await calls[0]]
    else:
        tasks = [asyncio.ensure_future(c) for c in calls]
        try:
            responses = list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()  # cancelling a call cancels its prediction upstream
            await asyncio.wait(tasks)
            raise
    return _text_response(prompts, responses, echo)


def _text_response(prompts: Sequence[str], responses: Sequence[Any], echo: bool) -> TextCompletion:
    choices = []
    prompt_tokens = completion_tokens = 0
    for index, (text, response) in enumerate(zip(prompts, responses, strict=True)):
        assert isinstance(response, ChatResponse)
        choice = response.choices[0]
        output = choice.message.text
        output = text + output if echo else output
        choices.append(TextChoice(text=output, index=index, finish_reason=choice.finish_reason))
        if response.usage is not None:
            prompt_tokens += response.usage.prompt_tokens
            completion_tokens += response.usage.completion_tokens
    first = responses[0]
    return TextCompletion(
        id=first.id,
        created=first.created,
        model=first.model,
        choices=tuple(choices),
        usage=Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens),
    )


async def _text_chunks(
    first: Stream,
    start: Any,
    prompts: Sequence[str],
    echo: bool,
) -> AsyncGenerator[TextCompletion, None]:
    usage: Usage | None = None
    pid, created, model = "", int(time.time()), ""
    for index, text in enumerate(prompts):
        chat = first if index == 0 else await start(text)
        async with chat:
            echoed = not echo
            async for chunk in chat:
                pid, created, model = chunk.id, chunk.created, chunk.model
                if not echoed:
                    echoed = True
                    yield TextCompletion(pid, created, model, (TextChoice(text, index),))
                if chunk.usage is not None and not chunk.choices:
                    u = chunk.usage
                    usage = u if usage is None else _add(usage, u)
                    continue
                for c in chunk.choices:
                    if c.delta.content:
                        yield TextCompletion(pid, created, model, (TextChoice(c.delta.content, index),))
                    if c.finish_reason is not None:
                        yield TextCompletion(
                            pid, created, model, (TextChoice("", index, None, c.finish_reason),)
                        )
    if usage is not None:
        yield TextCompletion(pid, created, model, (), usage=usage)


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        a.prompt_tokens + b.prompt_tokens,
        a.completion_tokens + b.completion_tokens,
        a.total_tokens + b.total_tokens,
    )


class TextStream:
    """An async iterator of ``TextCompletion`` pieces; also an async context manager. Closing it early
    cancels the prediction upstream, as a chat ``Stream`` does."""

    def __init__(self, chunks: AsyncGenerator[TextCompletion, None], first: Stream) -> None:
        self._chunks = chunks
        self._first = first

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> TextCompletion:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        try:
            await self._chunks.aclose()
        finally:
            await self._first.aclose()  # the generator may not have started: close its stream too

    async def __aenter__(self) -> TextStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
