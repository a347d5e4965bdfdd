"""Creating one call's prediction.

A create is sent again only when no prediction can have been made: a 429 or 503 refusal, a connection
that failed before the request left (``api.CREATES``), or a create whose outcome was unknown (cut after
sending, another 5xx, an unreadable answer) once the prediction list proved it made none
(``recovery``). One that did make a prediction is found in that list and followed, never resent.

A model that is not official answers 404 to a create by name, having made nothing: it is created by its
latest version instead, and the provider is told (``remember``) so its later calls go there at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Mapping
from typing import Any

import aiohttp
import orjson

from patchwire.errors import NotFoundError, ServiceUnavailableError
from patchwire.ratelimit import RateGate

from .api import CREATES, READ_TIMEOUT, Api, Unanswered
from .errors import http_error
from .files import LARGE_DATA_URL, needs_upload
from .recovery import find_lost_create
from .refs import CreateTarget
from .route import CreatePlan, Route

log = logging.getLogger("patchwire")

#: Seconds past the call's deadline after which Replicate cancels the prediction itself (``Cancel-After``,
#: sent on every create): the backstop for a client that cannot cancel it.
CANCEL_AFTER_SLACK = 5


def create_times(stream: bool, prefer_wait: int, remaining: float) -> tuple[int, int]:
    """A create's ``Cancel-After`` and ``Prefer: wait`` (0: none) in seconds, with ``remaining``
    seconds left: the prediction dies soon after the deadline, and the wait ends before it."""
    if stream or not prefer_wait:
        wait = 0
    else:
        wait = int(remaining) - 1
        if wait > prefer_wait:
            wait = prefer_wait
        elif wait < 1:
            wait = 1
    cancel_after = math.ceil(remaining) + CANCEL_AFTER_SLACK
    if cancel_after < 5:
        cancel_after = 5  # Replicate's minimum
    return cancel_after, wait


class Creation(Api):
    """The requests of one call (``Api``) that also send its create (see the module docstring) and
    return the prediction's first object. (One object per call, not one per part: ``PredictionJob``
    extends it in turn.)"""

    __slots__ = (
        "abandoned",
        "inputs",
        "on_wire",
        "planned",
        "recovering",
        "route",
        "silence",
        "target",
        "url",
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
        Api.__init__(self, session, route.auth, deadline, gate, route.label, retries, route.breaker)
        #: The model, API base and key's shared parts (links, claims, ``prefer_wait``, headers).
        self.route = route
        self.target = route.target
        #: Where the create goes (the target's, unless the model turned out to run only by version).
        self.url = route.create_url
        self.inputs = inputs
        #: How long the create may stay silent once sent before it counts as lost (its ``Prefer:
        #: wait`` and a slack).
        self.silence = READ_TIMEOUT
        #: The latest ``plan``, which ``send`` uses (None: ``send`` plans the create itself).
        self.planned: CreatePlan | None = None
        #: True from the moment a try is sent until its answer (or its failure) is in hand.
        self.on_wire = False
        #: True once the caller gave up: a create not yet sent (or being retried) is not sent.
        self.abandoned = False
        #: True while a lost create is being looked for.
        self.recovering = False

    @property
    def sent_at(self) -> float:
        """Unix time the latest try was sent (a lost create is looked for around it); worked out from
        its loop time when needed, rather than a clock read per create."""
        return time.time() - (asyncio.get_running_loop().time() - self.sent_loop)

    @property
    def in_doubt(self) -> bool:
        """Whether a prediction may exist that we do not know of yet (a create on the wire, or lost)."""
        return self.sending or self.recovering

    def plan(self, stream: bool, remaining: float) -> CreatePlan:
        """The create's headers and timeout with ``remaining`` seconds left; sets ``silence`` (how long
        it may go unanswered before it counts as lost)."""
        route = self.route
        cancel_after, wait = create_times(stream, route.prefer_wait, remaining)
        plan = route.plans.get((cancel_after, wait)) or route.plan(cancel_after, wait)
        self.silence = plan.silence
        self.planned = plan
        return plan

    async def send(self, stream: bool) -> dict[str, Any]:
        """The prediction's first object, by the latest ``plan`` made (``plan`` it again when time
        has passed since: ``Cancel-After`` and ``Prefer: wait`` count from the time left)."""
        body: dict[str, Any] = {"input": self.inputs}
        if self.target.version is not None:
            body["version"] = self.target.version
        if stream:
            body["stream"] = True
        data = orjson.dumps(body)
        plan = self.planned
        # A body shorter than one large data: URL holds none: the inputs need no look (the common case).
        if len(data) >= LARGE_DATA_URL and needs_upload(self.inputs):
            uploads, base = self.route.uploads, self.route.links.base
            self.inputs = body["input"] = await uploads.inline_or_upload(self, base, self.inputs)
            data = orjson.dumps(body)
            plan = None  # time has passed: planned again
        if plan is None:
            plan = self.plan(stream, self.deadline - asyncio.get_running_loop().time())
        while True:
            try:
                answer = await self.request(
                    "POST",
                    self.url,
                    rule=CREATES,
                    what=self.label,
                    timeout=plan.timeout,
                    headers=plan.headers,
                    data=data,
                    before_send=self._before_send,
                )
            except Unanswered as exc:
                self.on_wire = False
                found = await self._recover(data, exc.reason)
            else:
                self.on_wire = False
                status = answer.status
                if status < 300:
                    prediction = answer.json()
                    if isinstance(prediction, dict) and prediction.get("id"):
                        return prediction
                    found = await self._recover(data, f"unreadable {status} answer")
                elif status == 404 and self.target.version is None and self.target.deployment is None:
                    # Nothing was created, so creating by the model's latest version instead is safe.
                    self.target = await self._latest_version_target()
                    self.url = self.route.links.base + self.target.path
                    body["version"] = self.target.version
                    data = orjson.dumps(body)
                    continue
                else:
                    raise http_error(status, answer.body, answer.headers, what=self.label)
            if found is not None:
                return found
            # Proven to have made no prediction: sending it again cannot make a second one.
            log.debug("patchwire: replicate %s: sending the lost create again", self.label)

    def _before_send(self) -> Awaitable[None] | None:
        """Runs before each try: None when it may be sent now, else what to await first."""
        if self.abandoned:  # nobody waits for this prediction any more: make none
            raise ServiceUnavailableError(f"{self.label}: the call was abandoned before its create")
        gate = self.gate
        if gate is not None and not gate.create_now():
            return self._send_in_turn(gate)
        self.on_wire = True
        return None

    async def _send_in_turn(self, gate: RateGate) -> None:
        await gate.acquire_create()
        self.on_wire = True

    async def _recover(self, data: bytes, reason: str) -> dict[str, Any] | None:
        """The prediction the lost create made, or None when it made none."""
        self.recovering = True
        lost_at = asyncio.get_running_loop().time()
        # The input as the API echoes it back (JSON types), to compare with the list's.
        wanted = orjson.loads(data)["input"]
        found = await find_lost_create(
            self,
            self.route.links,
            self.route.claims,
            self.target,
            wanted,
            sent_at=self.sent_at,
            lost_at=lost_at,
            reason=reason,
        )
        self.recovering = False
        return found

    async def _latest_version_target(self) -> CreateTarget:
        """Where to create predictions of a model Replicate cannot run by name: its latest version."""
        label = self.label
        slug = str(self.target.model)
        base = self.route.links.base
        model = await self.read(f"{base}/v1/models/{slug}", what=f"model {slug}")
        latest = model.get("latest_version")
        version = latest.get("id") if isinstance(latest, Mapping) else None
        if not isinstance(version, str) or not version:
            raise NotFoundError(
                f"{label}: {slug} is not an official model, so Replicate runs it only by version, "
                f"and it has no published version to use; pin one: 'replicate/{slug}:<version>'",
                provider="replicate",
            )
        log.debug("patchwire: replicate %s is not an official model; creating by version %s", slug, version)
        target = CreateTarget("/v1/predictions", version, slug, None)
        self.route.remember(base, target)
        return target
