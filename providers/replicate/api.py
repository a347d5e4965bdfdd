"""How every request to Replicate is made: send, classify the answer, back off, all within a deadline.

Each answer falls in one of four classes, and a ``Rule`` says what to do with each for one kind of request:

- **final**: a 2xx, or a status that trying again cannot change (400, 401, 404, 422, ...): returned.
- **refused**: a status in ``rule.refused`` (429 always): the server did nothing, so the request is sent
  again after a back-off that honours ``Retry-After`` (the header, else the body's ``retry_after``).
- **lost before sending**: the connection failed before the request left: sent again, like a refusal.
- **lost after sending**: the connection broke after the request left, a 5xx that is not a refusal, or
  an unreadable 2xx: the server may have acted on it. Sent again only when ``rule.resend_lost`` (reads
  and cancels, which are idempotent); otherwise ``Unanswered`` is raised for the caller to resolve (a
  create may have made a prediction, and resending it could run and bill it twice).

Every back-off has full jitter and ends before the deadline: when the next try would start after it,
the call gives up at once with the error it has (a typed ``PatchwireError``), not a bare timeout.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Protocol

import aiohttp
import attrs

from patchwire import debug as requests_log
from patchwire import observe
from patchwire.breaker import CircuitBreaker
from patchwire.errors import PatchwireError, ServiceUnavailableError
from patchwire.http import read_capped
from patchwire.ratelimit import RateGate, cap_back_off
from patchwire.safetext import redact

from . import transport
from .errors import http_error, retry_after
from .transport import Answer, Lost, NotSent, TransportError

log = logging.getLogger("patchwire")

CONNECT_TIMEOUT = 10.0
#: Longest a read (get, list, schema) may stay silent before it counts as a lost connection.
READ_TIMEOUT = 30.0
#: Longest a cancel may take in all (it is best effort, and its caller is leaving).
CANCEL_BUDGET = 3.0

READ = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
CANCEL = aiohttp.ClientTimeout(total=None, sock_connect=CANCEL_BUDGET, sock_read=CANCEL_BUDGET)
_create_timeouts: dict[int, aiohttp.ClientTimeout] = {}


#: Seconds a create may stay silent beyond the ``Prefer: wait`` it asked for before it counts as lost.
CREATE_SILENCE_SLACK = 10.0


def create_timeout(wait: int) -> aiohttp.ClientTimeout:
    """A create that asked for ``Prefer: wait=<wait>`` may be silent that long before it answers."""
    timeout = _create_timeouts.get(wait)
    if timeout is None:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=CONNECT_TIMEOUT, sock_read=wait + CREATE_SILENCE_SLACK
        )
        _create_timeouts[wait] = timeout
    return timeout


_untimed: dict[aiohttp.ClientTimeout, aiohttp.ClientTimeout] = {}


def without_read_timeout(timeout: aiohttp.ClientTimeout) -> aiohttp.ClientTimeout:
    """``timeout`` with no read timeout: for a request whose silence a timer of the caller's ends
    (aiohttp arms a timer for a read timeout twice per answer)."""
    untimed = _untimed.get(timeout)
    if untimed is None:
        untimed = _untimed[timeout] = aiohttp.ClientTimeout(
            total=timeout.total, sock_connect=timeout.sock_connect, sock_read=None
        )
    return untimed


def within_deadline(timeout: aiohttp.ClientTimeout, remaining: float) -> aiohttp.ClientTimeout:
    """``timeout`` for a request whose caller's deadline (enforced by a timer of its own) is
    ``remaining`` seconds away: a read timeout that would not fire before it is dropped."""
    if timeout.sock_read is None or timeout.sock_read < remaining:
        return timeout
    return without_read_timeout(timeout)


class Watchdog(Protocol):
    """Cancels a request that stays silent too long (``deadline.CallDeadline``)."""

    def took_silence(self) -> float | None:
        """On a ``CancelledError``: the silence in seconds when the cancel was the watchdog's (it is
        then taken back), else None."""
        ...


class Backoff:
    """Delays for one retried request: ``base * 2**n`` with jitter, capped at ``cap``.

    ``attempts`` counts tries made; ``exhausted`` once ``max_attempts`` is reached.
    """

    __slots__ = ("attempts", "base", "cap", "max_attempts")

    def __init__(self, *, base: float = 0.25, cap: float = 8.0, max_attempts: int = 6) -> None:
        self.base = base
        self.cap = cap
        self.max_attempts = max_attempts
        self.attempts = 0

    @property
    def exhausted(self) -> bool:
        return self.attempts >= self.max_attempts

    def next_delay(self, retry_after: float | None = None) -> float:
        """The wait before the next try; a server's ``Retry-After`` is honoured as given."""
        n = self.attempts
        self.attempts += 1
        if retry_after is not None:
            # A little jitter on top, so a crowd told "1 s" does not come back in one burst.
            return retry_after + random.uniform(0.0, min(1.0, 0.1 + retry_after * 0.1))
        ceiling = min(self.cap, self.base * (2**n))
        return random.uniform(ceiling / 2, ceiling)


async def sleep_before(deadline: float, delay: float) -> bool:
    """Sleep ``delay`` seconds unless that passes ``deadline`` (loop time): False then, without sleeping
    past it, so the caller can give up with the error it has instead of a bare timeout."""
    loop = asyncio.get_running_loop()
    if loop.time() + delay >= deadline:
        return False
    await asyncio.sleep(delay)
    return True


#: 429 and every 5xx: what a read or a cancel retries.
BUSY = frozenset({429, *range(500, 600)})


@attrs.frozen
class Rule:
    """How one kind of request is retried (see the module docstring)."""

    #: Statuses that mean the server did nothing and asks us to come back.
    refused: Collection[int]
    #: Whether a request that may have been carried out may be sent again (true of idempotent ones).
    resend_lost: bool
    base: float = 0.25
    cap: float = 8.0
    max_attempts: int = 6
    #: Whether the call's ``num_retries=`` sets the tries (creates and reads; not cleanup or schemas).
    caller_retries: bool = False
    #: Which of the account's rate limits the request counts against (the gate paces each).
    budget: str = "reads"


#: A create: only 429 and 503 are refusals (Replicate sends no other status for a create it did not
#: make); any other failure after sending leaves a prediction that may exist, for the caller to find.
CREATES = Rule(
    refused=frozenset({429, 503}),
    resend_lost=False,
    base=0.5,
    cap=10.0,
    max_attempts=8,
    caller_retries=True,
    budget="creates",
)
READS = Rule(refused=BUSY, resend_lost=True, caller_retries=True)
#: A schema is optional (the call goes on without one), so it is worth only a few tries.
SCHEMAS = Rule(refused=BUSY, resend_lost=True, max_attempts=4)
#: A cancel is tried quickly and often within CANCEL_BUDGET.
CANCELS = Rule(refused=BUSY, resend_lost=True, base=0.1, cap=1.0, max_attempts=100)


class Unanswered(Exception):
    """A request that may have been carried out got no usable answer (only for rules that do not
    resend such requests). ``reason`` says what happened, without headers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Api:
    """Requests to Replicate on behalf of one call: its session, key, deadline and rate gate."""

    __slots__ = (
        "auth",
        "breaker",
        "deadline",
        "debug",
        "gate",
        "label",
        "retries",
        "sending",
        "sent_loop",
        "session",
        "verbose",
        "watchdog",
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        auth: Mapping[str, str],
        deadline: float,
        gate: RateGate | None,
        label: str,
        retries: int | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.session = session
        #: The call's ``num_retries=`` (None: each rule's own number of tries).
        self.retries = retries
        #: The upstream's circuit breaker (shared by the provider's calls to one API base).
        self.breaker = breaker
        #: ``{"Authorization": "Bearer <key>"}``, shared by the calls with that key: never changed.
        self.auth = auth
        self.deadline = deadline
        self.gate = gate
        #: ``replicate/<ref>``: names the model in messages.
        self.label = label
        #: True while a request is on the wire (the server may be acting on it).
        self.sending = False
        #: Loop time the latest try was sent.
        self.sent_loop = 0.0
        #: Ends a request silent too long by cancelling the task (it then counts as lost).
        self.watchdog: Watchdog | None = None
        # Whether the call's DEBUG lines, and its requests as curl commands (``patchwire.debug``), are
        # wanted: looked up once per call (the levels its start saw), not before every line.
        self.debug = log.isEnabledFor(logging.DEBUG)
        self.verbose = requests_log.log.isEnabledFor(logging.DEBUG)

    def __repr__(self) -> str:
        return f"Api({self.label!r})"  # never the key

    def with_deadline(self, deadline: float) -> Api:
        """The same requests with another deadline (work that goes on after the call has ended)."""
        return Api(self.session, self.auth, deadline, self.gate, self.label, self.retries, self.breaker)

    async def request(
        self,
        method: str,
        url: str,
        *,
        rule: Rule,
        what: str,
        timeout: aiohttp.ClientTimeout = READ,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        json_object: bool = False,
        deadline: float | None = None,
        prediction_id: str | None = None,
        before_send: Callable[[], Awaitable[None] | None] | None = None,
    ) -> Answer:
        """Send until the answer is final (see the module docstring) and return it.

        ``what`` names the thing asked for, in messages. ``json_object``: a 2xx must hold a JSON object
        (anything else counts as lost after sending). ``before_send`` runs before every try (it may
        return something to await first, or raise to stop). Raises ``Unanswered`` (rules that do not
        resend), or the typed error of the last failure once the rule's tries or the deadline (default:
        the call's) run out.
        """
        headers = self.auth if headers is None else headers
        # A body over a MiB goes as a stream (made again for each try: a stream is read once).
        streamed = data if data is not None and len(data) > transport.LARGE_BODY else None
        backoff: Backoff | None = None
        verbose = self.verbose
        loop = asyncio.get_running_loop()
        while True:
            if before_send is not None:
                waiting = before_send()
                if waiting is not None:
                    await waiting
            started = self.sent_loop = loop.time()
            hint: float | None = None
            status = 0
            error: PatchwireError
            if self.breaker is not None and (open_for := self.breaker.allow()) is not None:
                raise self._circuit_open(url, open_for, prediction_id)
            # Left True if the caller is cancelled mid-request: the request may have reached the server
            # (a cut create may have made a prediction, which ``cancel.abandon`` then looks for).
            self.sending = True
            if verbose:
                transport.log_request(method, url, headers, data)
            try:
                # The exchange is awaited here, not in a coroutine of its own: every coroutine between
                # the caller and aiohttp costs on each call's start and on every resume.
                async with self.session.request(
                    method,
                    url,
                    headers=headers,
                    data=data if streamed is None else io.BytesIO(streamed),
                    timeout=timeout,
                ) as resp:
                    answer = Answer(resp.status, resp.headers, await read_capped(resp))
            except asyncio.CancelledError:
                silence = self.watchdog.took_silence() if self.watchdog is not None else None
                if silence is None:
                    raise
                failure: TransportError | None = Lost(f"no answer within {silence:g}s")
            except transport.FAILURES as exc:
                failure = transport.failure(exc, url)
            else:
                failure = None
            if failure is not None:
                self.sending = False
                if self.breaker is not None and isinstance(failure, NotSent) and failure.refused:
                    self.breaker.failed()
                log.debug("patchwire: replicate %s %s failed: %s", method, url, failure.reason)
                if isinstance(failure, Lost) and not rule.resend_lost:
                    raise Unanswered(failure.reason) from None
                error = self._transport_error(failure, url, what, prediction_id)
            else:
                self.sending = False
                if self.breaker is not None:
                    self.breaker.succeeded()
                status = answer.status
                if verbose:
                    transport.log_answer(method, url, status, answer.body, loop.time() - started)
                if self.debug:
                    log.debug(
                        "patchwire: replicate %s %s -> %s in %.3fs",
                        method,
                        url,
                        status,
                        loop.time() - started,
                    )
                if status < 300:
                    if rule.budget == "creates" and self.gate is not None:
                        self.gate.answered(loop.time() - started)  # the slow start learns from it
                    if not json_object or isinstance(answer.json(), dict):
                        return answer
                    if not rule.resend_lost:
                        raise Unanswered(f"unreadable {status} answer")
                    error = ServiceUnavailableError(
                        f"{self.label}: Replicate sent an unreadable answer for {what}; retry later",
                        provider="replicate",
                        prediction_id=prediction_id,
                    )
                elif status in rule.refused:
                    if status == 429:
                        observe.event(observe.RATE_LIMITED, "replicate")
                    hint = retry_after(answer.headers, answer.json())
                    if hint is not None:  # `inf` or an hour must not park the call, or the gate
                        hint = cap_back_off(hint, self.gate)
                    error = http_error(
                        status, answer.body, answer.headers, what=what, prediction_id=prediction_id
                    )
                elif status >= 500 and not rule.resend_lost:
                    raise Unanswered(f"HTTP {status}")
                elif status >= 500:
                    error = http_error(
                        status, answer.body, answer.headers, what=what, prediction_id=prediction_id
                    )
                else:
                    return answer
            if backoff is None:
                tries = rule.max_attempts
                if rule.caller_retries and self.retries is not None:
                    tries = self.retries + 1
                backoff = Backoff(base=rule.base, cap=rule.cap, max_attempts=tries)
            delay = backoff.next_delay(hint)
            if deadline is None:
                deadline = self.deadline
            if backoff.exhausted or loop.time() + delay >= deadline:
                raise self._scrubbed(error)
            log.debug("patchwire: replicate %s %s: trying again in %.2fs", method, url, delay)
            if status == 429 and self.gate is not None:
                # One 429 slows every call through this gate, not just ours, and teaches it the pace.
                # (A hint of 0 s asks for no wait: no pause, and nothing to learn from it.)
                sent_at = time.monotonic() - (loop.time() - started)
                self.gate.refused(rule.budget, sent_at, delay if hint is None or hint > 0 else 0.0)
            observe.event(observe.RETRY, "replicate")
            await asyncio.sleep(delay)

    async def read(
        self,
        url: str,
        *,
        what: str,
        prediction_id: str | None = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
        timeout: aiohttp.ClientTimeout = READ,
    ) -> dict[str, Any]:
        """GET a JSON object (``READS`` rule); a final non-2xx raises its typed error."""
        answer = await self.request(
            "GET",
            url,
            rule=READS,
            what=what,
            timeout=timeout,
            json_object=True,
            prediction_id=prediction_id,
            before_send=before_send,
        )
        if answer.status >= 300:
            raise http_error(
                answer.status, answer.body, answer.headers, what=what, prediction_id=prediction_id
            )
        data: dict[str, Any] = answer.json()
        return data

    def _circuit_open(self, url: str, open_for: float, prediction_id: str | None) -> ServiceUnavailableError:
        origin = url.split("/v1/", 1)[0]
        return ServiceUnavailableError(
            f"{self.label}: could not connect to Replicate at {origin}: its last connections all failed, "
            f"so calls fail at once for {open_for:.1f}s more, then one tries again; check api_base and "
            "your network",
            provider="replicate",
            prediction_id=prediction_id,
            code="upstream_unreachable",
        )

    def _scrubbed(self, error: PatchwireError) -> PatchwireError:
        """``error`` without this call's key in its message (an upstream may echo it back)."""
        key = self.auth["Authorization"].removeprefix("Bearer ")
        if key and key in error.message:
            error.message = redact(error.message, (key,))
            error.args = (error.message,)
        return error

    def _transport_error(
        self, exc: TransportError, url: str, what: str, prediction_id: str | None
    ) -> ServiceUnavailableError:
        if isinstance(exc, NotSent):
            origin = url.split("/v1/", 1)[0]
            message = (
                f"{self.label}: could not connect to Replicate at {origin} ({exc.reason}); "
                "check api_base and your network, then retry"
            )
        else:
            message = (
                f"{self.label}: lost the connection to Replicate reading {what} ({exc.reason}); "
                "check your network and retry"
            )
        return ServiceUnavailableError(message, provider="replicate", prediction_id=prediction_id)
