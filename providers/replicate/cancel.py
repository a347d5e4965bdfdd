"""Cancelling the prediction of a call that ends early (cancelled task, deadline, closed stream, error).

``abandon()`` is bounded in time, and the caller's own cancellation does not stop it: the work runs as
a task of its own, which the caller waits for a few seconds and which goes on after it leaves. A
prediction whose id is known is cancelled by it. A create cut on the wire (the caller was cancelled
while it waited for the answer) leaves a prediction that may exist under an id nobody heard: it is
looked up in the prediction list and cancelled there. Only a call abandoned mid-create pays for that
lookup; every other call runs without a task or a timer of its own for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import orjson

from patchwire.errors import PatchwireError

from .api import BUSY, CANCEL, CANCEL_BUDGET, CANCELS, READ_TIMEOUT, Backoff, Rule, sleep_before
from .create import CANCEL_AFTER_SLACK
from .recovery import find_lost_create

if TYPE_CHECKING:
    from .predictions import PredictionJob

log = logging.getLogger("patchwire")

#: How long the caller of a cut create waits for its prediction to be found and cancelled.
CUT_WAIT = 6.0
#: How long the background lookup of a cut create's prediction may take.
LOOKUP_BUDGET = READ_TIMEOUT


async def abandon(job: PredictionJob) -> None:
    """Cancel the job's prediction unless it is finished. Safe to call more than once."""
    if job.finished:
        return
    job.abandoned = True
    if job.prediction_id is None:
        if not job.in_doubt:
            return  # no create reached Replicate (refused, failed, or never sent): nothing to cancel
        wait = CUT_WAIT  # a shutting-down process must not end before the lookup, nor wait long for it
    else:
        wait = CANCEL_BUDGET
    job.finished = True  # one cleanup per job, however many times it is abandoned
    task = asyncio.get_running_loop().create_task(_cleanup(job))
    _background.add(task)
    task.add_done_callback(_background.discard)
    # asyncio.wait neither cancels the task nor lets the caller's cancel reach it.
    await asyncio.wait((task,), timeout=wait)


async def _cleanup(job: PredictionJob) -> None:
    if job.prediction_id is None:
        await _find_cut_create(job)
        if job.prediction_id is None or job.ended:
            return  # it made none, or what it made has already ended
    await cancel(job)


async def _find_cut_create(job: PredictionJob) -> None:
    loop = asyncio.get_running_loop()
    api = job.with_deadline(loop.time() + LOOKUP_BUDGET)
    wanted = orjson.loads(orjson.dumps(job.inputs))  # as the API echoes it back (JSON types)
    try:
        found = await find_lost_create(
            api,
            job.links,
            job.claims,
            job.target,
            wanted,
            sent_at=job.sent_at,
            lost_at=loop.time(),
            reason="cut",
        )
    except PatchwireError as exc:
        log.debug("patchwire: replicate create cut for %s: %s", job.label, exc.message)
        return
    if found is not None:
        job.observe(found)


async def cancel(job: PredictionJob) -> None:
    """``POST .../cancel`` until Replicate takes it (it is idempotent, so it is simply sent again).

    First a round of quick tries within CANCEL_BUDGET (what the leaving caller waits for), retried after
    a connection error, a 429 or a 5xx. If Replicate has not taken it by then (it was down, slow or busy
    for a moment, or this machine was too loaded to hear back in time), it goes on being tried in the
    background until the prediction's ``Cancel-After`` would end it anyway: giving up sooner would leave
    it running, and billed, to the end of the call's timeout. A final answer (2xx or 4xx) ends it.
    """
    pid = job.prediction_id
    api = job
    loop = asyncio.get_running_loop()
    # Replicate ends the prediction by then itself (create sent Cancel-After: the time left, rounded up,
    # plus CANCEL_AFTER_SLACK).
    give_up_at = job.deadline + CANCEL_AFTER_SLACK + 1.0
    pauses = Backoff(base=CANCEL_PAUSE, cap=CANCEL_PAUSE_MAX, max_attempts=1 << 30)
    rule = CANCELS
    while True:
        round_end = loop.time() + CANCEL_BUDGET
        try:
            async with asyncio.timeout_at(round_end):
                await api.request(
                    "POST",
                    job.cancel_url,
                    rule=rule,
                    what=f"the cancel of prediction {pid}",
                    timeout=CANCEL,
                    deadline=round_end,
                    prediction_id=pid,
                )
            return
        except PatchwireError as exc:
            reason = exc.message
        except TimeoutError:
            reason = f"no answer within {CANCEL_BUDGET:g}s"
        except RuntimeError:
            if not api.session.closed:
                raise
            reason = "the router was closed"
        if api.session.closed or not await sleep_before(give_up_at, pauses.next_delay()):
            log.warning(
                "patchwire: replicate prediction %s could not be canceled (%s); it runs until Replicate "
                "ends it at its Cancel-After, the call's deadline + %ds",
                pid,
                reason,
                CANCEL_AFTER_SLACK,
            )
            return
        log.debug("patchwire: replicate cancel %s not taken yet (%s); trying again", pid, reason)
        rule = CANCEL_RETRY


#: After its first round of quick tries, a cancel not yet taken is tried once per pause, the pauses
#: growing from about a second to CANCEL_PAUSE_MAX: slow enough to spare an upstream in trouble.
CANCEL_RETRY = Rule(refused=BUSY, resend_lost=True, max_attempts=1)
CANCEL_PAUSE = 1.0
CANCEL_PAUSE_MAX = 10.0

#: Cleanup tasks still running after their caller left: referenced so they are not collected.
_background: set[asyncio.Task[None]] = set()


async def drain(timeout: float) -> None:
    """Wait up to ``timeout`` seconds for this loop's cleanups still running (a cancel being retried,
    a cut create being looked up): the router calls this before it closes its HTTP session, which
    would end them with the prediction still running."""
    loop = asyncio.get_running_loop()
    running = [task for task in _background if task.get_loop() is loop and not task.done()]
    if running:
        await asyncio.wait(running, timeout=timeout)
