"""Finding the prediction a create of unknown outcome may have made, or proving that it made none.

Replicate takes no idempotency key, so a create cut after it was sent (or answered with a 5xx that is not
a refusal) may or may not have made a prediction, and sending it again blindly could run and bill it
twice. Instead, ``GET /v1/predictions?created_after=…`` is searched for a prediction of the same model
with the same input, created near our send time, that no other call of this process follows (``Claims``).

A search made at least ``LIST_DELAY`` after the create was lost, that reads the whole creation window and
shows no such prediction, proves the create made none: the caller may then send it again. Until one of
the two is established (found, or proven absent) the search is repeated within the call's deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from patchwire.errors import RateLimitError, ServiceUnavailableError, UnknownOutcomeError

from .api import Api, Backoff, sleep_before
from .links import Links
from .refs import CreateTarget

log = logging.getLogger("patchwire")

#: How far before our send time a lost create is looked for (client and server clocks differ).
CLOCK_SLACK = 120.0
#: A prediction shows in the list within this many seconds of its create being processed. Replicate
#: stores a prediction before it answers its create, so this is a generous margin for lag in the list.
LIST_DELAY = 2.0
#: Pages (100 predictions each, newest first) a search may read; a window longer than that proves nothing.
FIND_PAGES = 20


class Claims:
    """Predictions this process already follows, per API base: a lost create must not be "found" as
    some other concurrent call's identical prediction. Bounded; oldest forgotten first."""

    def __init__(self, size: int = 8192) -> None:
        # An OrderedDict: dropping a plain dict's first key gets slower as deleted slots pile up at
        # its front, which made CPU per prediction grow with the number of predictions made.
        self._ids: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._size = size

    def add(self, base: str, pid: str) -> None:
        ids = self._ids
        ids[base, pid] = None
        if len(ids) > self._size:
            ids.popitem(last=False)

    def has(self, base: str, pid: str) -> bool:
        return (base, pid) in self._ids


async def find_lost_create(
    api: Api,
    links: Links,
    claims: Claims,
    target: CreateTarget,
    wanted: Any,
    *,
    sent_at: float,
    lost_at: float,
    reason: str,
) -> dict[str, Any] | None:
    """The prediction a lost create made, or None once it is proven to have made none.

    ``wanted`` is the create's input, ``sent_at`` the Unix time it was sent, ``lost_at`` the loop time
    it was lost. ``UnknownOutcomeError`` when neither can be established before the deadline.
    """
    label = api.label
    log.debug("patchwire: replicate create for %s lost (%s); looking for it", label, reason)
    loop = asyncio.get_running_loop()
    search = _Search(api, links, claims, target, wanted, sent_at)
    proof_from = lost_at + LIST_DELAY
    failures = Backoff(base=0.5, cap=4.0, max_attempts=1 << 30)
    looked = "no search of GET /v1/predictions was complete before the deadline"
    while True:
        started = loop.time()
        try:
            found, complete = await search.run()
        except (ServiceUnavailableError, RateLimitError) as exc:
            # The list cannot be read: that says nothing about whether the create made one.
            log.debug("patchwire: replicate lookup of a lost create failed: %s", exc.message)
            looked = f"GET /v1/predictions could not be read to look for it ({exc.message})"
            delay = failures.next_delay()
        else:
            if found is not None:
                log.debug("patchwire: replicate found lost create as %s", found.get("id"))
                return found
            if not complete:
                looked = f"more than {FIND_PAGES} pages of predictions were created around it"
                break
            if started >= proof_from:
                log.debug("patchwire: replicate lost create for %s made no prediction", label)
                return None
            delay = proof_from - loop.time()
        if not await sleep_before(api.deadline, max(0.0, delay)):
            break
    raise UnknownOutcomeError(
        f"{label}: the create request failed after it was sent ({reason}) and {looked}, so "
        "it may or may not be running. It was not resent (that could run and bill it twice): "
        "check https://replicate.com/predictions, then retry",
        provider="replicate",
    )


class _Search:
    """One pass over the prediction list for the lost create."""

    __slots__ = ("api", "claims", "links", "sent_at", "target", "wanted")

    def __init__(
        self, api: Api, links: Links, claims: Claims, target: CreateTarget, wanted: Any, sent_at: float
    ) -> None:
        self.api = api
        self.links = links
        self.claims = claims
        self.target = target
        self.wanted = wanted
        self.sent_at = sent_at

    async def run(self) -> tuple[dict[str, Any] | None, bool]:
        """The unclaimed prediction with our model and input created nearest to ``sent_at``, and
        whether the whole creation window was read."""
        base = self.links.base
        url: str | None = f"{base}/v1/predictions?created_after={_iso(self.sent_at - CLOCK_SLACK)}"
        best: dict[str, Any] | None = None
        best_gap = math.inf
        pages = 0
        while url and pages < FIND_PAGES:
            pages += 1
            page = await self.api.read(url, what="the prediction list")
            results = page.get("results")
            for item in results if isinstance(results, list) else ():
                if self._matches(item):
                    gap = abs(_timestamp(item.get("created_at")) - self.sent_at)
                    if gap < best_gap:
                        best, best_gap = item, gap
            nxt = page.get("next")
            url = self.links.follow(nxt, "") if isinstance(nxt, str) and nxt else None
        return best, url is None

    def _matches(self, item: Any) -> bool:
        if not isinstance(item, Mapping) or item.get("input") != self.wanted:
            return False
        pid = item.get("id")
        if not isinstance(pid, str) or self.claims.has(self.links.base, pid):
            return False
        target = self.target
        if target.version is not None:
            version = str(item.get("version", ""))
            return version == target.version or version.endswith(":" + target.version)
        if target.deployment is not None:
            deployment = item.get("deployment")
            return deployment is None or str(deployment).lower() == target.deployment.lower()
        model = item.get("model")
        return model is None or str(model).lower() == str(target.model).lower()


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _timestamp(value: Any) -> float:
    """An RFC 3339 time as a Unix timestamp (Replicate writes up to nanoseconds); inf if unreadable."""
    if not isinstance(value, str):
        return math.inf
    text = value.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # fromisoformat takes at most six fraction digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return math.inf
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()
