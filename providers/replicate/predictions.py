"""One prediction's life on Replicate: create it, follow it to the end, or cancel it.

A ``PredictionJob`` is made per call and knows the call's session, key, base URL and deadline. It records
the prediction's id and links as soon as the create answers, so whoever abandons the call (a cancelled
task, the deadline, an error) can cancel the prediction: ``abandon()`` waits briefly for a create still
in flight, then sends ``POST .../cancel``, shielded and bounded, and is a no-op once the prediction
reached a terminal status.

Retries: a create is retried only when no prediction can have been made (429 and 503 refusals, a
connection that failed before sending). A create whose outcome is unknown (cut after sending, timed
out, another 5xx) is looked up in ``GET /v1/predictions?created_after=…`` by model and input, and
followed if found; otherwise ``UnknownOutcomeError``. Reads retry on 429, 5xx and connection errors.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson

from patchwire.errors import (
    NotFoundError,
    PatchwireError,
    RateLimitError,
    ServiceUnavailableError,
    UnknownOutcomeError,
)
from patchwire.ratelimit import RateGate

from .auth import rebase
from .errors import http_error, parse_body, prediction_error, retry_after
from .refs import CreateTarget
from .retry import Backoff, sleep_before
from .transport import Lost, NotSent, TransportError, send

log = logging.getLogger("patchwire")

TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})

CONNECT_TIMEOUT = 10.0
#: Longest a read (get, list, schema) may stay silent before it counts as a lost connection.
READ_TIMEOUT = 30.0
#: How long an abandoned call's caller waits for a create still in flight, beyond its ``Prefer: wait``.
CREATE_GRACE = 1.0
#: How long the background cleanup keeps waiting for that create's answer (which names the prediction
#: to cancel) after the caller has gone: cutting it off sooner could leave a prediction made and unknown.
CREATE_LIMIT = READ_TIMEOUT
#: Total time a best-effort cancel may take.
CANCEL_BUDGET = 3.0
#: Polling interval: starts short (a fast model is done at once), backs off to POLL_MAX.
POLL_FIRST = 0.1
POLL_FACTOR = 1.5
POLL_MAX = 2.0
#: How far before our send time a lost create is looked for (client and server clocks differ).
CLOCK_SLACK = 120.0
#: Lookups of a lost create, spaced out (a prediction may take a moment to appear in the list).
FIND_ATTEMPTS = 3
FIND_PAGES = 5

READ = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
CANCEL = aiohttp.ClientTimeout(total=None, sock_connect=CANCEL_BUDGET, sock_read=CANCEL_BUDGET)
_create_timeouts: dict[int, aiohttp.ClientTimeout] = {}


def create_timeout(wait: int) -> aiohttp.ClientTimeout:
    timeout = _create_timeouts.get(wait)
    if timeout is None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=wait + 10.0)
        _create_timeouts[wait] = timeout
    return timeout


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


class PredictionJob:
    """Create, follow and cancel one call's prediction (see the module docstring)."""

    __slots__ = (
        "abandoned",
        "auth",
        "base",
        "claims",
        "create_task",
        "deadline",
        "finished",
        "gate",
        "in_doubt",
        "inputs",
        "label",
        "pinned",
        "prediction_id",
        "prefer_wait",
        "rebase_links",
        "session",
        "status",
        "target",
        "urls",
        "wait",
    )

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        key: str,
        base: str,
        rebase_links: bool,
        deadline: float,
        gate: RateGate | None,
        target: CreateTarget,
        inputs: dict[str, Any],
        label: str,
        claims: Claims,
        prefer_wait: int,
        pinned: dict[tuple[str, str], CreateTarget] | None = None,
    ) -> None:
        self.session = session
        self.auth = {"Authorization": f"Bearer {key}"}
        self.base = base
        self.rebase_links = rebase_links
        self.deadline = deadline
        self.gate = gate
        self.target = target
        self.inputs = inputs
        #: ``replicate/<ref>``: names the model in messages and responses.
        self.label = label
        self.claims = claims
        self.prefer_wait = prefer_wait
        #: Where a model that is not official turned out to be runnable (its latest version), per
        #: (API base, owner/name): shared by the provider's calls so the lookup is made once.
        self.pinned = pinned if pinned is not None else {}
        #: The ``Prefer: wait`` the create asked for (how long its answer may take).
        self.wait = 0
        self.prediction_id: str | None = None
        self.urls: Mapping[str, Any] = {}
        self.status: str | None = None
        self.create_task: asyncio.Task[dict[str, Any]] | None = None
        #: True once nothing is left to cancel (terminal status seen, or cancel sent).
        self.finished = False
        #: True once the caller gave up: a create not yet sent (or being retried) is not sent.
        self.abandoned = False
        #: True while a create request that may have made a prediction is unanswered (or looked up).
        self.in_doubt = False

    # -- links ---------------------------------------------------------------------------------

    def _link(self, url: Any, fallback: str) -> str:
        if not isinstance(url, str) or not url:
            return fallback
        return rebase(url, self.base) if self.rebase_links else url

    def observe(self, prediction: Mapping[str, Any]) -> str:
        """Record what a prediction object says (id, links, status); returns the status."""
        status = prediction.get("status")
        if status.__class__ is not str:
            status = "starting"
        if self.prediction_id is None:
            pid = str(prediction["id"])
            self.prediction_id = pid
            self.claims.add(self.base, pid)
            urls = prediction.get("urls")
            self.urls = urls if isinstance(urls, Mapping) else {}
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
        return self._link(self.urls.get("get"), f"{self.base}/v1/predictions/{self.prediction_id}")

    @property
    def cancel_url(self) -> str:
        fallback = f"{self.base}/v1/predictions/{self.prediction_id}/cancel"
        return self._link(self.urls.get("cancel"), fallback)

    @property
    def stream_url(self) -> str | None:
        stream = self.urls.get("stream")
        return self._link(stream, "") if stream else None

    # -- create --------------------------------------------------------------------------------

    async def create(self, *, stream: bool) -> dict[str, Any]:
        """Create the prediction (``Prefer: wait`` unless streaming); returns its first object.

        The exchange runs as its own task, so a caller cancelled meanwhile leaves it running and
        ``abandon()`` can still learn the id and cancel the prediction.
        """
        task = asyncio.get_running_loop().create_task(self._create(stream))
        self.create_task = task
        return await asyncio.shield(task)

    async def _create(self, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"input": self.inputs}
        if self.target.version is not None:
            body["version"] = self.target.version
        if stream:
            body["stream"] = True
        data = orjson.dumps(body)
        url = self.base + self.target.path
        loop = asyncio.get_running_loop()
        remaining = self.deadline - loop.time()
        headers = {
            **self.auth,
            "Content-Type": "application/json",
            # Server-side backstop: the prediction dies soon after our deadline even if we cannot
            # cancel it (the process died). Replicate's minimum is 5 s.
            "Cancel-After": f"{max(5, math.ceil(remaining) + 5)}s",
        }
        if stream or not self.prefer_wait:
            timeout = READ
        else:
            self.wait = wait = max(1, min(self.prefer_wait, int(remaining) - 1))
            headers["Prefer"] = f"wait={wait}"
            timeout = create_timeout(wait)
        backoff = None
        gate = self.gate
        debug = log.isEnabledFor(logging.DEBUG)
        while True:
            if self.abandoned:  # nobody waits for this prediction any more: make none
                raise ServiceUnavailableError(f"{self.label}: the call was abandoned before its create")
            if gate is not None:
                await gate.acquire_create()
            sent_at = time.time()
            started = loop.time() if debug else 0.0
            self.in_doubt = True  # from here until a refusal, a prediction may exist
            try:
                answer = await send(self.session, "POST", url, headers=headers, data=data, timeout=timeout)
            except NotSent as exc:
                self.in_doubt = False
                backoff = backoff or Backoff(base=0.5, cap=10.0, max_attempts=8)
                delay = backoff.next_delay()
                if backoff.exhausted or not await sleep_before(self.deadline, delay):
                    raise ServiceUnavailableError(
                        f"{self.label}: could not connect to Replicate at {self.base} ({exc.reason}); "
                        "check api_base and your network, then retry",
                        provider="replicate",
                    ) from None
                continue
            except Lost as exc:
                return await self._recover(sent_at, data, exc.reason)
            status = answer.status
            if debug:
                log.debug("patchwire: replicate POST %s -> %s in %.3fs", url, status, loop.time() - started)
            if status < 300:
                prediction = parse_body(answer.body)
                if not isinstance(prediction, dict) or not prediction.get("id"):
                    return await self._recover(sent_at, data, f"unreadable {status} answer")
                self.observe(prediction)
                return prediction
            if status in (429, 503):
                # Refusals: nothing was created, so trying again is safe.
                self.in_doubt = False
                hint = retry_after(answer.headers, parse_body(answer.body))
                backoff = backoff or Backoff(base=0.5, cap=10.0, max_attempts=8)
                delay = backoff.next_delay(hint)
                log.debug("patchwire: replicate create refused (%s); retrying in %.2fs", status, delay)
                if backoff.exhausted or loop.time() + delay >= self.deadline:
                    raise http_error(status, answer.body, answer.headers, what=self.label)
                if status == 429 and gate is not None:
                    gate.back_off(delay)  # the whole router slows down; acquire_create waits it out
                else:
                    await asyncio.sleep(delay)
                continue
            if status >= 500:
                return await self._recover(sent_at, data, f"HTTP {status}")
            if status == 404 and self.target.version is None and self.target.deployment is None:
                # Not an official model (the seed's "owner/name" strings): nothing was created, so
                # creating by its latest version instead is safe.
                self.in_doubt = False
                self.target = await self._latest_version_target()
                body["version"] = self.target.version
                data = orjson.dumps(body)
                url = self.base + self.target.path
                continue
            raise http_error(status, answer.body, answer.headers, what=self.label)

    async def _latest_version_target(self) -> CreateTarget:
        """Where to create predictions of a model Replicate cannot run by name: its latest version."""
        slug = str(self.target.model)
        model = await self.read(f"{self.base}/v1/models/{slug}", what=f"model {slug}")
        latest = model.get("latest_version")
        version = latest.get("id") if isinstance(latest, Mapping) else None
        if not isinstance(version, str) or not version:
            raise NotFoundError(
                f"{self.label}: {slug} is not an official model, so Replicate runs it only by version, "
                f"and it has no published version to use; pin one: 'replicate/{slug}:<version>'",
                provider="replicate",
            )
        log.debug("patchwire: replicate %s is not an official model; creating by version %s", slug, version)
        target = CreateTarget("/v1/predictions", version, slug, None)
        self.pinned[self.base, slug] = target
        return target

    async def _recover(self, sent_at: float, data: bytes, reason: str) -> dict[str, Any]:
        """Find the prediction a create of unknown outcome may have made; never resend it."""
        log.debug("patchwire: replicate create for %s lost (%s); looking for it", self.label, reason)
        wanted = orjson.loads(data)["input"]
        looked = "no matching prediction shows in GET /v1/predictions"
        for attempt in range(FIND_ATTEMPTS):
            try:
                found = await self._find(sent_at, wanted)
            except (ServiceUnavailableError, RateLimitError) as exc:
                # The list cannot be read: that says nothing about whether the create made one.
                log.debug("patchwire: replicate lookup of a lost create failed: %s", exc.message)
                looked = f"GET /v1/predictions could not be read to look for it ({exc.message})"
                break
            if found is not None:
                log.debug("patchwire: replicate found lost create as %s", found.get("id"))
                self.observe(found)
                return found
            if attempt + 1 < FIND_ATTEMPTS and not await sleep_before(self.deadline, 0.5 * (attempt + 1)):
                break
        raise UnknownOutcomeError(
            f"{self.label}: the create request failed after it was sent ({reason}) and {looked}, so "
            "it may or may not be running. It was not resent (that could run and bill it twice): "
            "check https://replicate.com/predictions, then retry",
            provider="replicate",
        )

    def _matches(self, item: Any, wanted: Any) -> bool:
        if not isinstance(item, Mapping) or item.get("input") != wanted:
            return False
        pid = item.get("id")
        if not isinstance(pid, str) or self.claims.has(self.base, pid):
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

    async def _find(self, sent_at: float, wanted: Any) -> dict[str, Any] | None:
        """The unclaimed prediction with our model and input created nearest to ``sent_at``."""
        url: str | None = f"{self.base}/v1/predictions?created_after={_iso(sent_at - CLOCK_SLACK)}"
        best: dict[str, Any] | None = None
        best_gap = math.inf
        pages = 0
        while url and pages < FIND_PAGES:
            pages += 1
            page = await self.read(url, what="the prediction list")
            results = page.get("results")
            for item in results if isinstance(results, list) else ():
                if self._matches(item, wanted):
                    gap = abs(_timestamp(item.get("created_at")) - sent_at)
                    if gap < best_gap:
                        best, best_gap = item, gap
            nxt = page.get("next")
            url = self._link(nxt, "") if isinstance(nxt, str) and nxt else None
        return best

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, url: str, *, what: str) -> dict[str, Any]:
        """GET a JSON object, retrying 429, 5xx and connection errors with back-off."""
        backoff = Backoff()
        while True:
            error: PatchwireError
            hint: float | None = None
            try:
                answer = await send(self.session, "GET", url, headers=self.auth, timeout=READ)
            except TransportError as exc:
                error = ServiceUnavailableError(
                    f"{self.label}: lost the connection to Replicate reading {what} ({exc.reason}); "
                    "check your network and retry",
                    provider="replicate",
                    prediction_id=self.prediction_id,
                )
            else:
                status = answer.status
                if status < 300:
                    parsed = parse_body(answer.body)
                    if isinstance(parsed, dict):
                        return parsed
                    error = ServiceUnavailableError(
                        f"{self.label}: Replicate sent an unreadable answer for {what}; retry later",
                        provider="replicate",
                        prediction_id=self.prediction_id,
                    )
                elif status == 429 or status >= 500:
                    error = http_error(
                        status, answer.body, answer.headers, what=what, prediction_id=self.prediction_id
                    )
                    hint = retry_after(answer.headers, parse_body(answer.body))
                    if status == 429 and self.gate is not None and hint:
                        self.gate.back_off(hint)
                else:
                    raise http_error(
                        status, answer.body, answer.headers, what=what, prediction_id=self.prediction_id
                    )
            delay = backoff.next_delay(hint)
            if backoff.exhausted or not await sleep_before(self.deadline, delay):
                raise error

    async def get(self) -> dict[str, Any]:
        prediction = await self.read(self.get_url, what=f"prediction {self.prediction_id}")
        self.observe(prediction)
        return prediction

    async def follow(self, prediction: dict[str, Any]) -> dict[str, Any]:
        """Poll ``urls.get`` until the prediction is terminal (the caller's deadline bounds this)."""
        interval = POLL_FIRST
        while self.observe(prediction) not in TERMINAL:
            await asyncio.sleep(interval)
            interval = min(POLL_MAX, interval * POLL_FACTOR)
            prediction = await self.get()
        return prediction

    def result_error(self, prediction: Mapping[str, Any]) -> PatchwireError | None:
        if prediction.get("status") == "succeeded":
            return None
        return prediction_error(prediction, self.label)

    # -- cancel --------------------------------------------------------------------------------

    async def abandon(self) -> None:
        """Cancel the prediction unless it is finished: shielded from the caller's own cancellation
        and bounded in time. Safe to call more than once."""
        if self.finished:
            return
        create = self.create_task
        if self.prediction_id is None and (create is None or create.done()):
            return  # nothing was made (the create failed): nothing to cancel
        self.abandoned = True
        if self.prediction_id is None and create is not None and not self.in_doubt:
            create.cancel()  # not sent yet (waiting for the rate gate, or after a refusal): none made
            return
        task = asyncio.get_running_loop().create_task(self._abandon())
        _background.add(task)
        task.add_done_callback(_background.discard)
        # The caller waits for the cancel, but only briefly for a create slow to answer: that goes on
        # in the background. asyncio.wait neither cancels the task nor lets the caller's cancel reach it.
        if self.prediction_id is None and create is not None:
            await asyncio.wait((create,), timeout=self.wait + CREATE_GRACE)
            if not create.done():
                return
        await asyncio.wait((task,), timeout=CANCEL_BUDGET)

    async def _abandon(self) -> None:
        create = self.create_task
        if self.prediction_id is None and create is not None and not create.done():
            # The create is in flight: its answer (within Prefer: wait) tells us what to cancel.
            try:
                await asyncio.wait_for(asyncio.shield(create), self.wait + CREATE_LIMIT)
            except Exception:  # we only want the id, whatever the create did
                pass
            if not create.done():
                create.cancel()
        if create is not None and create.done() and not create.cancelled():
            create.exception()  # retrieved: the caller already has its own error
        if self.prediction_id is None or self.finished:
            return
        self.finished = True
        await self.cancel()

    async def cancel(self) -> None:
        """``POST .../cancel``, best effort within CANCEL_BUDGET: retried (it is idempotent) after a
        connection error, a 429 or a 5xx; errors are only logged."""
        url = self.cancel_url
        backoff = Backoff(base=0.1, cap=1.0, max_attempts=100)
        deadline = asyncio.get_running_loop().time() + CANCEL_BUDGET
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    hint = None
                    try:
                        answer = await send(self.session, "POST", url, headers=self.auth, timeout=CANCEL)
                    except TransportError as exc:
                        log.debug("patchwire: replicate cancel %s failed: %s", self.prediction_id, exc)
                    else:
                        status = answer.status
                        log.debug("patchwire: replicate cancel %s -> %s", self.prediction_id, status)
                        if status != 429 and status < 500:
                            return
                        hint = retry_after(answer.headers, parse_body(answer.body))
                    if not await sleep_before(deadline, backoff.next_delay(hint)):
                        log.debug("patchwire: replicate cancel %s gave up", self.prediction_id)
                        return
        except TimeoutError:
            log.debug("patchwire: replicate cancel %s timed out", self.prediction_id)


#: Cleanup tasks still running after their caller left: referenced so they are not collected.
_background: set[asyncio.Task[None]] = set()
