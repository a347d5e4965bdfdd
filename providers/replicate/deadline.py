"""A call's deadline: one timer per call, which cancels the call's task when the deadline passes.

It works as ``asyncio.timeout_at`` does, with two additions, both about the create:

- A create on the wire when the deadline passes gets ``CREATE_GRACE`` seconds more to answer. Its answer
  names the prediction, so a prediction that finished just then is returned rather than cut and looked
  for, and one still running is cancelled by its id. A call abandoned any other way (its task cancelled,
  an error) cuts its create at once, and ``cancel.abandon`` finds what it made in the prediction list.
- A create silent for longer than it may be (its ``Prefer: wait`` and a slack) is cut as lost, well
  before a distant deadline (``Api.request`` turns that cancel into a lost request, which the create
  then resolves). This is the create's read timeout: aiohttp's own would arm a timer twice per answer.

The call runs on its caller's task with no task of its own, and this timer replaces
``asyncio.timeout_at``, the create's read timeout and the router's backstop (the provider declares
``keeps_deadline``). A call that ends before its create could have gone silent arms it once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .predictions import PredictionJob

#: Seconds past the deadline a create already on the wire may still answer in.
CREATE_GRACE = 1.0


class CallDeadline:
    """The call's timer (see the module docstring). Use as::

    deadline = CallDeadline(job, stream=False)
    try:
        ...
    except asyncio.CancelledError:
        if deadline.expired():  # our cancel, not the caller's
            ...                 # the call timed out
        raise
    finally:
        deadline.stop()
    """

    __slots__ = ("_cancelling", "_cut", "_deadline", "_handle", "_job", "_loop", "_task")

    def __init__(self, job: PredictionJob, *, stream: bool) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:  # pragma: no cover - a provider is always awaited from a task
            raise RuntimeError("a Replicate call must run in an asyncio task")
        self._loop = loop
        self._task = task
        self._job = job
        self._cancelling = task.cancelling()
        #: Why this timer cancelled the task, until that cancel is taken back: "deadline", "silence".
        self._cut: str | None = None
        # The create is planned now (its headers, how long it may stay silent), and is not sent yet:
        # it cannot have been silent too long before now + its silence.
        deadline = self._deadline = job.deadline
        now = loop.time()
        due = now + job.plan(stream, deadline - now).silence
        self._handle: asyncio.TimerHandle | None = loop.call_at(
            due if due < deadline else deadline, self._on_timer
        )
        job.watchdog = self

    def _on_timer(self) -> None:
        job = self._job
        now = self._loop.time()
        creating = job.prediction_id is None and job.on_wire and job.sending
        if now >= job.deadline:
            if creating and self._cut is None and now < job.deadline + CREATE_GRACE:
                # Its answer, if it comes soon, tells what to return or cancel.
                self._handle = self._loop.call_at(job.deadline + CREATE_GRACE, self._on_timer)
                return
            self._cancel("deadline")
            return
        if creating:
            due = job.sent_loop + job.silence
            if now >= due:
                self._cancel("silence")
                return
        elif job.prediction_id is None:
            due = now + job.silence  # not sent yet (or being resent)
        else:
            due = job.deadline
        self._handle = self._loop.call_at(min(job.deadline, due), self._on_timer)

    def _cancel(self, why: str) -> None:
        self._handle = None
        self._cut = why
        self._task.cancel()

    @property
    def passed(self) -> bool:
        """Whether the deadline has passed (a create answering in its grace comes back after it)."""
        return self._loop.time() >= self._deadline

    def took_silence(self) -> float | None:
        """Called by ``Api.request`` on a ``CancelledError``: when this timer cut a silent create,
        the cancel is taken back, the timer armed again, and the silence allowed is returned."""
        if self._cut != "silence":
            return None
        self._cut = None
        if self._task.uncancel() > self._cancelling:
            return None  # the caller cancelled the call as well: that cancel goes on
        job = self._job
        # The create will be resolved, and maybe resent: the timer looks again a silence from now.
        silence = job.silence
        self._handle = self._loop.call_at(min(job.deadline, self._loop.time() + silence), self._on_timer)
        return silence

    def expired(self) -> bool:
        """Called on a ``CancelledError``: True (and the cancel is taken back) when it was this
        deadline's; False when someone else cancelled the task too, whose cancel must go on."""
        if self._cut != "deadline":
            return False
        self._cut = None
        return self._task.uncancel() <= self._cancelling

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._job.watchdog = None
