"""Finding the prediction a create of unknown outcome may have made.

Replicate takes no idempotency key, so a create cut after it was sent (or answered with a 5xx that is not
a refusal) may or may not have made a prediction, and sending it again could run and bill it twice.
Instead, ``GET /v1/predictions?created_after=…`` is searched for a prediction of the same model with the
same input, created near our send time, that no other call of this process follows (``Claims``).
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from patchwire.errors import RateLimitError, ServiceUnavailableError, UnknownOutcomeError

from .api import Api, sleep_before
from .links import Links
from .refs import CreateTarget

log = logging.getLogger("patchwire")

#: How far before our send time a lost create is looked for (client and server clocks differ).
CLOCK_SLACK = 120.0
#: Lookups of a lost create, spaced out (a prediction may take a moment to appear in the list).
FIND_ATTEMPTS = 3
FIND_PAGES = 5


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
    reason: str,
) -> dict[str, Any]:
    """The prediction a lost create made (its input is ``wanted``, it was sent at ``sent_at``, a Unix
    time); ``UnknownOutcomeError`` when it cannot be found."""
    label = api.label
    log.debug("patchwire: replicate create for %s lost (%s); looking for it", label, reason)
    search = _Search(api, links, claims, target, wanted, sent_at)
    looked = "no matching prediction shows in GET /v1/predictions"
    for attempt in range(FIND_ATTEMPTS):
        try:
            found = await search.run()
        except (ServiceUnavailableError, RateLimitError) as exc:
            # The list cannot be read: that says nothing about whether the create made one.
            log.debug("patchwire: replicate lookup of a lost create failed: %s", exc.message)
            looked = f"GET /v1/predictions could not be read to look for it ({exc.message})"
            break
        if found is not None:
            log.debug("patchwire: replicate found lost create as %s", found.get("id"))
            return found
        if attempt + 1 < FIND_ATTEMPTS and not await sleep_before(api.deadline, 0.5 * (attempt + 1)):
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

    async def run(self) -> dict[str, Any] | None:
        """The unclaimed prediction with our model and input created nearest to ``sent_at``."""
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
        return best

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
