"""Cancelling the prediction of a call that ends early (cancelled task, deadline, closed stream, error).

``abandon()`` is shielded from the caller's own cancellation and bounded in time. A create still in flight
is waited for briefly, since only its answer names the prediction to cancel; the wait goes on in the
background after the caller has left, so a prediction made after all is still cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from patchwire.errors import PatchwireError

from .api import BUSY, CANCEL, CANCEL_BUDGET, CANCELS, READ_TIMEOUT, Backoff, Rule, sleep_before
from .create import CANCEL_AFTER_SLACK

if TYPE_CHECKING:
    from .predictions import PredictionJob

log = logging.getLogger("patchwire")

#: How long an abandoned call's caller waits for a create still in flight, beyond its ``Prefer: wait``.
CREATE_GRACE = 1.0
#: How long the background cleanup keeps waiting for that create's answer (which names the prediction
#: to cancel) after the caller has gone: cutting it off sooner could leave a prediction made and unknown.
CREATE_LIMIT = READ_TIMEOUT


async def abandon(job: PredictionJob) -> None:
    """Cancel the job's prediction unless it is finished. Safe to call more than once."""
    if job.finished:
        return
    create = job.create_task
    if job.prediction_id is None and (create is None or create.done()):
        return  # nothing was made (the create failed): nothing to cancel
    creation = job.creation
    creation.abandoned = True
    if job.prediction_id is None and create is not None and not creation.in_doubt:
        create.cancel()  # not sent yet (waiting for the rate gate, or after a refusal): none made
        return
    task = asyncio.get_running_loop().create_task(_cleanup(job))
    _background.add(task)
    task.add_done_callback(_background.discard)
    # The caller waits for the cancel, but only briefly for a create slow to answer: that goes on
    # in the background. asyncio.wait neither cancels the task nor lets the caller's cancel reach it.
    if job.prediction_id is None and create is not None:
        await asyncio.wait((create,), timeout=creation.wait + CREATE_GRACE)
        if not create.done():
            return
    await asyncio.wait((task,), timeout=CANCEL_BUDGET)


async def _cleanup(job: PredictionJob) -> None:
    create = job.create_task
    if job.prediction_id is None and create is not None and not create.done():
        # The create is in flight: its answer (within Prefer: wait) tells us what to cancel.
        try:
            await asyncio.wait_for(asyncio.shield(create), job.creation.wait + CREATE_LIMIT)
        except Exception:  # we only want the id, whatever the create did
            pass
        if not create.done():
            create.cancel()
    if create is not None and create.done() and not create.cancelled():
        create.exception()  # retrieved: the caller already has its own error
    if job.prediction_id is None or job.finished:
        return
    job.finished = True
    await cancel(job)


async def cancel(job: PredictionJob) -> None:
    """``POST .../cancel`` until Replicate takes it (it is idempotent, so it is simply sent again).

    First a round of quick tries within CANCEL_BUDGET (what the leaving caller waits for), retried after
    a connection error, a 429 or a 5xx. If Replicate has not taken it by then (it was down, slow or busy
    for a moment, or this machine was too loaded to hear back in time), it goes on being tried in the
    background until the prediction's ``Cancel-After`` would end it anyway: giving up sooner would leave
    it running, and billed, to the end of the call's timeout. A final answer (2xx or 4xx) ends it.
    """
    pid = job.prediction_id
    api = job.api
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
