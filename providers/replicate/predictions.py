"""One call's prediction: what is known of it (id, status, links), and following it to its end.

A ``PredictionJob`` is made per call: the one object that makes the call's requests (``api.Api``), sends
its create (``create.Creation``) and follows its prediction. The create runs on the caller's task, and the
prediction's id and links are recorded as soon as the create answers, so whoever abandons the call (a
cancelled task, the deadline, an error) can cancel the prediction (``cancel.abandon``; a create cut on
the wire is found in the prediction list first). A running
prediction is followed by polling ``urls.get``, starting short (a fast model is done at once) and backing
off; the caller's deadline bounds it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from types import MappingProxyType
from typing import Any

import aiohttp

from patchwire.errors import PatchwireError
from patchwire.ratelimit import RateGate

from . import cancel
from .api import READ, within_deadline
from .create import Creation
from .errors import prediction_error
from .recovery import Claims
from .route import Route

log = logging.getLogger("patchwire")

TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
#: The links of a prediction not heard of yet.
_NO_URLS: Mapping[str, Any] = MappingProxyType({})

#: Polling interval: starts short (a fast model is done at once), backs off to POLL_MAX.
POLL_FIRST = 0.1
POLL_FACTOR = 1.5
POLL_MAX = 2.0


class PredictionJob(Creation):
    """Create, follow and cancel one call's prediction (see the module docstring)."""

    __slots__ = (
        "finished",
        "links",
        "prediction_id",
        "status",
        "urls",
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        route: Route,
        inputs: dict[str, Any],
        deadline: float,
        gate: RateGate | None,
        retries: int | None,
    ) -> None:
        Creation.__init__(self, session, route, inputs, deadline, gate, retries)
        self.links = route.links
        self.prediction_id: str | None = None
        self.urls: Mapping[str, Any] = _NO_URLS
        self.status: str | None = None
        #: True once nothing is left to cancel (terminal status seen, or cancel sent).
        self.finished = False

    @property
    def claims(self) -> Claims:
        return self.route.claims

    def observe(self, prediction: Mapping[str, Any]) -> str:
        """Record what a prediction object says (id, links, status); returns the status."""
        status = prediction.get("status")
        if status.__class__ is not str:
            status = "starting"
        if self.prediction_id is None:
            pid = prediction["id"]
            if pid.__class__ is not str:
                pid = str(pid)
            self.prediction_id = pid
            self.route.claims.add(self.links.base, pid)
            urls = prediction.get("urls")
            if urls.__class__ is dict or isinstance(urls, Mapping):  # a dict, from JSON: no ABC check
                self.urls = urls
            else:
                self.urls = _NO_URLS
            if self.debug:
                log.debug("patchwire: replicate %s: prediction %s is %s", self.label, pid, status)
        elif status != self.status:
            log.debug("patchwire: replicate prediction %s: %s -> %s", self.prediction_id, self.status, status)
        self.status = status
        if status in TERMINAL:
            self.finished = True
        return status

    # Links are resolved when first needed: a prediction done in one round trip needs none.

    @property
    def get_url(self) -> str:
        return self.links.follow(
            self.urls.get("get"), f"{self.links.base}/v1/predictions/{self.prediction_id}"
        )

    @property
    def cancel_url(self) -> str:
        # A refused link still leaves the prediction to cancel: by its id, on the API base.
        fallback = f"{self.links.base}/v1/predictions/{self.prediction_id}/cancel"
        return self.links.follow_or(self.urls.get("cancel"), fallback)

    @property
    def stream_url(self) -> str | None:
        stream = self.urls.get("stream")
        return self.links.follow(stream, "") if stream else None

    @property
    def ended(self) -> bool:
        """Whether the prediction is known to have ended (nothing left to cancel)."""
        return self.status in TERMINAL

    async def get(self, *, timeout: aiohttp.ClientTimeout = READ) -> dict[str, Any]:
        """The prediction as it is now (observed)."""
        prediction = await self._read_prediction(timeout)
        self.observe(prediction)
        return prediction

    def _read_prediction(self, timeout: aiohttp.ClientTimeout) -> Coroutine[Any, Any, dict[str, Any]]:
        # The read's own coroutine, which the caller awaits: ``follow`` polls without ``get``'s in
        # between (a coroutine costs on every resume), and observes each answer itself.
        gate = self.gate
        return self.read(
            self.get_url,
            what=f"prediction {self.prediction_id}",
            prediction_id=self.prediction_id,
            # Polls of every call keep together within the account's read budget.
            before_send=gate.acquire_read if gate is not None else None,
            timeout=timeout,
        )

    async def follow(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """Poll ``urls.get`` until the prediction is terminal (the caller's deadline bounds this)."""
        interval = POLL_FIRST
        while self.observe(prediction) not in TERMINAL:
            await asyncio.sleep(interval)
            interval = min(POLL_MAX, interval * POLL_FACTOR)
            # Polls run under the call's deadline timer (``deadline.CallDeadline``).
            remaining = self.deadline - asyncio.get_running_loop().time()
            prediction = await self._read_prediction(within_deadline(READ, remaining))
        return prediction

    def result_error(self, prediction: Mapping[str, Any]) -> PatchwireError | None:
        if prediction.get("status") == "succeeded":
            return None
        return prediction_error(prediction, self.label)

    async def abandon(self) -> None:
        """Cancel the prediction unless it is finished (``cancel.abandon``)."""
        await cancel.abandon(self)
