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
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from patchwire.errors import NotFoundError, ServiceUnavailableError

from .api import CREATES, READ, READ_TIMEOUT, Api, Unanswered, create_timeout, without_read_timeout
from .errors import http_error
from .links import Links
from .recovery import Claims, find_lost_create
from .refs import CreateTarget

log = logging.getLogger("patchwire")

#: Seconds past the call's deadline after which Replicate cancels the prediction itself (``Cancel-After``,
#: sent on every create): the backstop for a client that cannot cancel it.
CANCEL_AFTER_SLACK = 5


class Creation:
    """Sends one call's create (see the module docstring) and returns the prediction's first object."""

    __slots__ = (
        "abandoned",
        "api",
        "claims",
        "inputs",
        "links",
        "on_wire",
        "prefer_wait",
        "recovering",
        "remember",
        "sent_at",
        "sent_loop",
        "silence",
        "target",
        "wait",
    )

    def __init__(
        self,
        *,
        api: Api,
        links: Links,
        claims: Claims,
        target: CreateTarget,
        inputs: dict[str, Any],
        prefer_wait: int,
        remember: Callable[[str, CreateTarget], None],
    ) -> None:
        self.api = api
        self.links = links
        self.claims = claims
        self.target = target
        self.inputs = inputs
        self.prefer_wait = prefer_wait
        #: Called with (API base, target) when a model turned out to run only by its latest version.
        self.remember = remember
        #: The ``Prefer: wait`` the create asks for (how long its answer may take); 0: none.
        self.wait = 0
        #: Unix time the latest try was sent (a lost create is looked for around it).
        self.sent_at = 0.0
        #: Loop time the latest try was sent, and how long it may then stay silent before it counts
        #: as lost (its ``Prefer: wait`` and a slack).
        self.sent_loop = 0.0
        self.silence = READ_TIMEOUT
        #: True from the moment a try is sent until its answer (or its failure) is in hand.
        self.on_wire = False
        #: True once the caller gave up: a create not yet sent (or being retried) is not sent.
        self.abandoned = False
        #: True while a lost create is being looked for.
        self.recovering = False

    @property
    def in_doubt(self) -> bool:
        """Whether a prediction may exist that we do not know of yet (a create on the wire, or lost)."""
        return self.api.sending or self.recovering

    def plan(self, *, stream: bool, remaining: float) -> aiohttp.ClientTimeout:
        """The create's timeout with ``remaining`` seconds left; sets ``wait`` (its ``Prefer: wait``,
        0 for none) and ``silence`` (how long it may go unanswered before it counts as lost)."""
        if stream or not self.prefer_wait:
            self.wait = 0
            timeout = READ
        else:
            self.wait = max(1, min(self.prefer_wait, int(remaining) - 1))
            timeout = create_timeout(self.wait)
        self.silence = timeout.sock_read or READ_TIMEOUT
        return timeout

    async def send(self, *, stream: bool) -> dict[str, Any]:
        api = self.api
        body: dict[str, Any] = {"input": self.inputs}
        if self.target.version is not None:
            body["version"] = self.target.version
        if stream:
            body["stream"] = True
        data = orjson.dumps(body)
        remaining = api.deadline - asyncio.get_running_loop().time()
        headers = {
            **api.auth,
            "Content-Type": "application/json",
            # Server-side backstop: the prediction dies soon after our deadline even if we cannot
            # cancel it (the process died). Replicate's minimum is 5 s.
            "Cancel-After": f"{max(5, math.ceil(remaining) + CANCEL_AFTER_SLACK)}s",
        }
        timeout = self.plan(stream=stream, remaining=remaining)
        if self.wait:
            headers["Prefer"] = f"wait={self.wait}"
        # The call's one timer (``deadline.CallDeadline``) ends a create silent for longer than
        # ``silence``: aiohttp's own read timeout would arm a timer twice per answer.
        timeout = without_read_timeout(timeout)
        while True:
            url = self.links.base + self.target.path
            try:
                answer = await api.request(
                    "POST",
                    url,
                    rule=CREATES,
                    what=api.label,
                    timeout=timeout,
                    headers=headers,
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
                    body["version"] = self.target.version
                    data = orjson.dumps(body)
                    continue
                else:
                    raise http_error(status, answer.body, answer.headers, what=api.label)
            if found is not None:
                return found
            # Proven to have made no prediction: sending it again cannot make a second one.
            log.debug("patchwire: replicate %s: sending the lost create again", api.label)

    async def _before_send(self) -> None:
        if self.abandoned:  # nobody waits for this prediction any more: make none
            raise ServiceUnavailableError(f"{self.api.label}: the call was abandoned before its create")
        gate = self.api.gate
        if gate is not None:
            await gate.acquire_create()
        self.sent_at = time.time()
        self.sent_loop = asyncio.get_running_loop().time()
        self.on_wire = True

    async def _recover(self, data: bytes, reason: str) -> dict[str, Any] | None:
        """The prediction the lost create made, or None when it made none."""
        self.recovering = True
        lost_at = asyncio.get_running_loop().time()
        # The input as the API echoes it back (JSON types), to compare with the list's.
        wanted = orjson.loads(data)["input"]
        found = await find_lost_create(
            self.api,
            self.links,
            self.claims,
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
        label = self.api.label
        slug = str(self.target.model)
        model = await self.api.read(f"{self.links.base}/v1/models/{slug}", what=f"model {slug}")
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
        self.remember(self.links.base, target)
        return target
