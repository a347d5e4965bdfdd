"""What every call to one model, on one API base, with one key shares: worked out once, not per call.

A call needs the model's create target, the base's ``Links`` and circuit breaker, the account's rate
gate, the ``Authorization`` header, the create URL and the create's headers. None of them changes from
one call to the next, so the provider keeps a ``Route`` per (model, API base, key) and each call only
looks it up. The create's headers differ only by the call's time left (``Cancel-After``, ``Prefer:
wait``), so they are kept per pair of those numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from patchwire.breaker import CircuitBreaker
from patchwire.ratelimit import RateGate

from .api import READ, READ_TIMEOUT, create_timeout, without_read_timeout
from .files import FileUploads
from .links import Links
from .recovery import Claims
from .refs import CreateTarget

#: Most header sets a route keeps (one per distinct pair of times: callers' timeouts vary little).
_MAX_HEADER_SETS = 64


class CreatePlan:
    """The create's headers and aiohttp timeout for one ``Cancel-After`` and ``Prefer: wait``, and
    how long it may stay silent (``silence``) before it counts as lost."""

    __slots__ = ("headers", "silence", "timeout", "wait")

    def __init__(self, auth: Mapping[str, str], cancel_after: int, wait: int) -> None:
        headers = {
            **auth,
            "Content-Type": "application/json",
            # Server-side backstop: the prediction dies soon after our deadline even if we cannot
            # cancel it (the process died). Replicate's minimum is 5 s.
            "Cancel-After": f"{cancel_after}s",
        }
        if wait:
            headers["Prefer"] = f"wait={wait}"
            timeout = create_timeout(wait)
        else:
            timeout = READ
        # Read-only, as every call of the route sends these same headers; and already the multidict
        # aiohttp would otherwise make of a dict on every request.
        self.headers: Mapping[str, str] = CIMultiDictProxy(CIMultiDict(headers))
        self.wait = wait
        self.silence: float = timeout.sock_read or READ_TIMEOUT
        # The call's one timer (``deadline.CallDeadline``) ends a create silent for longer than
        # ``silence``: aiohttp's own read timeout would arm a timer twice per answer.
        self.timeout: aiohttp.ClientTimeout = without_read_timeout(timeout)


class Route:
    """One (model, API base, key)'s shared parts (see the module docstring). Holds the key: never
    shown in a repr."""

    __slots__ = (
        "auth",
        "breaker",
        "claims",
        "create_url",
        "gate",
        "label",
        "links",
        "plans",
        "prefer_wait",
        "remember",
        "target",
        "uploads",
    )

    def __init__(
        self,
        *,
        target: CreateTarget,
        links: Links,
        key: str,
        gate: RateGate,
        breaker: CircuitBreaker,
        label: str,
        claims: Claims,
        uploads: FileUploads,
        prefer_wait: int,
        remember: Callable[[str, CreateTarget], None],
    ) -> None:
        self.target = target
        self.links = links
        self.create_url = links.base + target.path
        self.auth: Mapping[str, str] = {"Authorization": f"Bearer {key}"}
        #: The account's gate, for calls whose router has none.
        self.gate = gate
        self.breaker = breaker
        #: ``replicate/<ref>``: names the model in messages and responses.
        self.label = label
        #: The predictions the provider's calls follow (a lost create must not be "found" as one).
        self.claims = claims
        #: The provider's recent uploads of large data: URLs (reused, not uploaded again).
        self.uploads = uploads
        #: The provider's ``prefer_wait``.
        self.prefer_wait = prefer_wait
        #: Called with (API base, target) when a model turned out to run only by its latest version.
        self.remember = remember
        #: By (Cancel-After, Prefer: wait); ``plan`` makes the missing ones.
        self.plans: dict[tuple[int, int], CreatePlan] = {}

    def __repr__(self) -> str:
        return f"Route({self.label!r}, {self.links.base!r})"  # never the key

    def plan(self, cancel_after: int, wait: int) -> CreatePlan:
        """The create's headers and timeout for a ``Cancel-After`` of ``cancel_after`` seconds and a
        ``Prefer: wait`` of ``wait`` (0: none)."""
        plans = self.plans
        plan = plans.get((cancel_after, wait))
        if plan is None:
            if len(plans) >= _MAX_HEADER_SETS:
                plans.clear()
            plan = plans[cancel_after, wait] = CreatePlan(self.auth, cancel_after, wait)
        return plan
