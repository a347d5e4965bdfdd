"""A call's deadline: one timer per call, which cancels the call's task when it passes.

It works as ``asyncio.timeout_at`` does, with one difference: a create on the wire when the deadline
passes gets ``CREATE_GRACE`` seconds more to answer. Its answer names the prediction, so a prediction
that finished just then is returned rather than cut and looked for, and one still running is cancelled
by its id. A call abandoned any other way (its task cancelled, an error) cuts its create at once, and
``cancel.abandon`` finds what the create made in the prediction list, in the background.

The call runs on its caller's task, with no task of its own: that is the cheapest way to run it, and
the timer replaces both ``asyncio.timeout_at`` and the router's backstop (the provider declares
``keeps_deadline``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .predictions import PredictionJob

#: Seconds past the deadline a create already on the wire may still answer in.
CREATE_GRACE = 1.0


class CallDeadline:
    """Cancels the current task at ``job.deadline`` (see the module docstring). Use as::

    deadline = CallDeadline(job)
    try:
        ...
    except asyncio.CancelledError:
        if deadline.expired():  # our cancel, not the caller's
            ...                 # the call timed out
        raise
    finally:
        deadline.stop()
    """

    __slots__ = ("_cancelling", "_fired", "_handle", "_job", "_loop", "_task")

    def __init__(self, job: PredictionJob) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - a provider is always awaited from a task
            raise RuntimeError("a Replicate call must run in an asyncio task")
        self._loop = loop
        self._task = task
        self._job = job
        self._cancelling = task.cancelling()
        self._fired = False
        self._handle: asyncio.TimerHandle | None = loop.call_at(job.deadline, self._on_deadline)

    def _on_deadline(self) -> None:
        job = self._job
        if job.prediction_id is None and job.creation.api.sending:
            # A create is on the wire: its answer, if it comes soon, tells what to return or cancel.
            self._handle = self._loop.call_at(self._loop.time() + CREATE_GRACE, self._cut)
            return
        self._cut()

    def _cut(self) -> None:
        self._handle = None
        self._fired = True
        self._task.cancel()

    @property
    def passed(self) -> bool:
        """Whether the deadline has passed (a create answering in its grace comes back after it)."""
        return self._loop.time() >= self._job.deadline

    def expired(self) -> bool:
        """Called on a ``CancelledError``: True (and the cancel is taken back) when it was this
        deadline's; False when someone else cancelled the task too, whose cancel must go on."""
        if not self._fired:
            return False
        self._fired = False
        return self._task.uncancel() <= self._cancelling

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
