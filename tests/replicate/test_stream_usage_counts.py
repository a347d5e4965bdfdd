"""A stream's closing usage counts the completion tokens: from Replicate's metrics when they are
there, else the chunks streamed (a create that answered ``"metrics": {}`` once reported 0)."""

from __future__ import annotations

import asyncio
from typing import Any

from patchwire.providers.replicate.provider import ReplicateProvider


class FinishedJob:
    """Stands in for the finished prediction's one read (what Replicate answers for it)."""

    prediction_id = "p1"

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.deadline = asyncio.get_running_loop().time() + 10
        self.reads = 0

    async def get(self) -> dict[str, Any]:
        self.reads += 1
        return self.answer


async def test_empty_metrics_count_the_chunks_streamed() -> None:
    job: Any = FinishedJob({"status": "succeeded", "metrics": {}, "output": None})
    usage = await ReplicateProvider()._stream_usage(job, {"metrics": {}}, {"prompt": "abcd" * 3}, 5)
    assert job.reads == 1  # empty metrics are not the final counts: the prediction is read once
    assert usage.completion_tokens == 5
    assert usage.total_tokens == usage.prompt_tokens + 5


async def test_replicates_own_counts_win_when_present() -> None:
    metrics = {"input_token_count": 7, "output_token_count": 11}
    job: Any = FinishedJob({"status": "succeeded", "metrics": metrics})
    usage = await ReplicateProvider()._stream_usage(job, {"metrics": {}}, {"prompt": "x"}, 5)
    assert (usage.prompt_tokens, usage.completion_tokens) == (7, 11)
