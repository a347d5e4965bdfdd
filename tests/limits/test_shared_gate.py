"""Rate limits shared through a real Redis: several gates (as several processes would) keep one budget
and one back-off; a gate keeps serving on its own limits while Redis is gone, and shares again when it
is back; the password never shows."""

from __future__ import annotations

import asyncio
import logging

import pytest
from support import RedisServer

import patchwire
from patchwire import ratelimit
from patchwire.errors import ConfigError
from patchwire.redis_limits import RedisLimits, redis_url, shown_url

pytest.importorskip("redis")
pytest.importorskip("limits")


async def granted_at_once(gate: patchwire.RateGate, tries: int) -> int:
    """How many of ``tries`` creates the gate grants without making anyone wait. The first try may
    take longer: it may be the one that connects to Redis (slow on a loaded machine), and a gate that
    makes it wait makes it wait far longer (the tests' back-offs and refills are many seconds)."""
    granted = 0
    for i in range(tries):
        try:
            await asyncio.wait_for(gate.acquire_create(), 0.2 if i else 2.0)
        except TimeoutError:
            break
        granted += 1
    return granted


async def test_gates_sharing_redis_keep_one_budget(redis_server: RedisServer) -> None:
    a, b = RedisLimits(redis_server.url), RedisLimits(redis_server.url)
    try:
        gate_a = patchwire.RateGate(per_minute=60, burst=4, shared=a)
        gate_b = patchwire.RateGate(per_minute=60, burst=4, shared=b)
        assert await granted_at_once(gate_a, 3) == 3
        # The other process has only what is left of the same burst.
        assert await granted_at_once(gate_b, 4) == 1
        assert gate_a.sharing and gate_b.sharing
        # Unshared gates would each have had the whole burst.
        assert await granted_at_once(patchwire.RateGate(per_minute=60, burst=4), 5) == 4
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_429_in_one_process_pauses_the_others(redis_server: RedisServer) -> None:
    a, b = RedisLimits(redis_server.url), RedisLimits(redis_server.url)
    try:
        gate_a = patchwire.RateGate(shared=a)
        gate_b = patchwire.RateGate(shared=b)
        gate_a.back_off(30.0)
        waiting = asyncio.ensure_future(gate_a.acquire_create())
        # The pause reaches Redis before gate A sits out its own back-off...
        await asyncio.sleep(0)
        for _ in range(200):
            if await b.paused_for("creates") > 0:
                break
            await asyncio.sleep(0.01)
        assert 25.0 < await b.paused_for("creates") <= 30.0
        # ...so gate B's next create waits too.
        assert await granted_at_once(gate_b, 1) == 0
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
    finally:
        await a.aclose()
        await b.aclose()


async def test_redis_gone_mid_run_keeps_serving_then_rejoins(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "SHARED_RETRY", 0.05)
    store = RedisLimits(redis_server.url, timeout=0.5)
    try:
        gate = patchwire.RateGate(per_minute=3000, burst=50, shared=store)
        assert await granted_at_once(gate, 2) == 2 and gate.sharing
        redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="patchwire"):
            # Creates go on under the local bucket; the outage is logged once, however many calls.
            results = await asyncio.wait_for(asyncio.gather(*(gate.acquire_create() for _ in range(20))), 10)
            assert len(results) == 20 and not gate.sharing
            unreachable = [r for r in caplog.records if "unreachable" in r.getMessage()]
            assert len(unreachable) == 1
            assert redis_server.url.split("//")[1].split("/")[0] in unreachable[0].getMessage()
            redis_server.start()
            await asyncio.sleep(0.06)  # past SHARED_RETRY
            await asyncio.wait_for(gate.acquire_create(), 5)
            assert gate.sharing
            assert any("are back" in r.getMessage() for r in caplog.records)
        # Sharing again: the grant was counted in the (restarted, empty) Redis, where others see it.
        other = RedisLimits(redis_server.url)
        try:
            gate_b = patchwire.RateGate(per_minute=3000, burst=50, shared=other)
            assert await granted_at_once(gate_b, 50) == 49
        finally:
            await other.aclose()
    finally:
        await store.aclose()


async def test_cooldowns_are_seen_by_every_process(redis_server: RedisServer) -> None:
    a, b = RedisLimits(redis_server.url), RedisLimits(redis_server.url, namespace="other-account")
    c = RedisLimits(redis_server.url)
    try:
        assert await c.cooling("llama-3/0") == 0.0
        await a.cool_down("llama-3/0", 10)
        await a.cool_down("llama-3/0", 2)  # a shorter one does not cut it short
        assert 9.0 < await c.cooling("llama-3/0") <= 10.0
        assert await b.cooling("llama-3/0") == 0.0  # another namespace is another account
    finally:
        for store in (a, b, c):
            await store.aclose()


async def test_unreachable_redis_names_the_setting_without_the_password() -> None:
    store = RedisLimits("redis://:s3cret-pw@127.0.0.1:1/0", timeout=0.5)
    try:
        with pytest.raises(ConfigError) as info:
            await store.check()
    finally:
        await store.aclose()
    message = str(info.value)
    assert "redis_url" in message and "127.0.0.1:1" in message and "redis_optional" in message
    assert "s3cret" not in message and "s3cret" not in repr(store)


def test_redis_url_from_litellm_settings() -> None:
    assert redis_url(host="10.0.0.5", port=6380) == "redis://10.0.0.5:6380"
    url = redis_url(host="127.0.0.1", password="p@ss/word")
    assert url == "redis://:p%40ss%2Fword@127.0.0.1:6379"
    assert "p%40ss" not in shown_url(url) and "***" in shown_url(url)
    with pytest.raises(ConfigError, match="redis_url"):
        redis_url(url="http://127.0.0.1:6379")
    with pytest.raises(ConfigError, match="redis_url"):
        redis_url(url="127.0.0.1:6379")


async def test_cooldowns_of_the_router_are_shared_and_survive_redis_going(redis_server: RedisServer) -> None:
    from patchwire.redis_limits import RedisCooldowns

    a, b = RedisLimits(redis_server.url, timeout=0.5), RedisLimits(redis_server.url, timeout=0.5)
    try:
        first, second = RedisCooldowns(a), RedisCooldowns(b)
        assert not await first.failed("llama-3/0", allowed_fails=2, cooldown_time=30)
        assert await second.cooling(["llama-3/0"]) == {}
        # The second failure, seen by another replica, starts the cooldown every replica sees.
        assert await second.failed("llama-3/0", allowed_fails=2, cooldown_time=30)
        assert set(await first.cooling(["llama-3/0", "llama-3/1"])) == {"llama-3/0"}
        await first.succeeded("llama-3/0")
        assert await second.cooling(["llama-3/0"]) == {}
        redis_server.stop()
        # Redis gone: each replica keeps its own cooldowns, no call fails for it.
        assert await first.failed("llama-3/1", allowed_fails=1, cooldown_time=30)
        assert set(await first.cooling(["llama-3/1"])) == {"llama-3/1"}
    finally:
        await a.aclose()
        await b.aclose()
