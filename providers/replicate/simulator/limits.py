"""Replicate's rate limits, enforced per API token as two token buckets: prediction creates, and every
other request (gets, lists, cancels, streams, models, files...). An SSE stream counts once, when it opens.

Replicate documents 600 creates a minute and 3,000 other requests a minute, "short bursts allowed",
without saying how short. The defaults here allow ten seconds' worth at once (100 creates, 500 other
requests); the low-credit variant is what Replicate answers while an account has less than $5 of
credit: 6 creates a minute with a burst of 1. Beyond them: 429 with Replicate's body
(``detail``, ``status``, ``retry_after``) and a ``Retry-After`` header in whole seconds.
"""

from __future__ import annotations

import math
import time

import attrs


def _positive(_: object, attribute: attrs.Attribute[float], value: float | None) -> None:
    if value is None and attribute.name == "others_per_minute":
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number, not {value!r}")


@attrs.frozen(kw_only=True)
class RateLimits:
    """Per-token limits. ``scaled(f)`` keeps the bursts' duration and multiplies the rates by ``f``."""

    creates_per_minute: float = attrs.field(default=600.0, validator=_positive)
    creates_burst: float = attrs.field(default=100.0, validator=_positive)
    #: None: other requests are not limited.
    others_per_minute: float | None = attrs.field(default=3000.0, validator=_positive)
    others_burst: float = attrs.field(default=500.0, validator=_positive)
    #: Answer refused creates with the low-credit body (the rate and burst are the caller's to set).
    low_credit: bool = False

    @classmethod
    def replicate(cls) -> RateLimits:
        """Replicate's documented limits, with the bursts described in the module docstring."""
        return cls()

    @classmethod
    def replicate_low_credit(cls) -> RateLimits:
        """An account with little credit left: 6 creates a minute, a burst of 1."""
        return cls(creates_per_minute=6, creates_burst=1, low_credit=True)

    def scaled(self, factor: float) -> RateLimits:
        return attrs.evolve(
            self,
            creates_per_minute=self.creates_per_minute * factor,
            creates_burst=max(1.0, self.creates_burst * factor),
            others_per_minute=None if self.others_per_minute is None else self.others_per_minute * factor,
            others_burst=max(1.0, self.others_burst * factor),
        )


class TokenBucket:
    """``rate`` per second, holding at most ``burst``; one bucket per API token."""

    __slots__ = ("_buckets", "burst", "rate")

    def __init__(self, per_minute: float, burst: float) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float) -> float:
        """0.0 if a request may go now (and it is counted), else the seconds until one may."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate


class AccountLimits:
    """The two buckets of every token, and the 429 detail to answer with."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.creates = TokenBucket(limits.creates_per_minute, limits.creates_burst)
        others = limits.others_per_minute
        self.others = TokenBucket(others, limits.others_burst) if others is not None else None

    def check(self, token: str, create: bool) -> tuple[int, str] | None:
        """None if the request may go on; else (Retry-After seconds, the 429 ``detail``)."""
        bucket = self.creates if create else self.others
        if bucket is None:
            return None
        wait = bucket.take(token, time.monotonic())
        if wait <= 0:
            return None
        seconds = max(1, math.ceil(wait))
        if create and self.limits.low_credit:
            per_minute = self.limits.creates_per_minute
            detail = (
                "Request was throttled. Your rate limit for creating predictions is reduced to "
                f"{per_minute:g} requests per minute with a burst of {self.limits.creates_burst:g} "
                "requests while you have less than $5.0 in credit. "
                f"Your rate limit resets in ~{seconds}s."
            )
        else:
            detail = f"Request was throttled. Your rate limit resets in ~{seconds}s."
        return seconds, detail
