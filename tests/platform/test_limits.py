"""Per-tenant limits behave the same in memory and in Redis (shared by replicas)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as redis

from scaispeak.platform.limits import MemoryLimiter, RedisLimiter, TenantLimiter, TooManyRequests
from tests.support.redis_probe import REDIS_URL, skip_unless_redis


@pytest.fixture(params=["memory", "redis"])
async def limiter_factory(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[[int, int], TenantLimiter]]:
    made: list[RedisLimiter] = []

    def build(max_concurrent: int, per_minute: int) -> TenantLimiter:
        if request.param == "memory":
            return MemoryLimiter(max_concurrent, per_minute)
        limiter = RedisLimiter(REDIS_URL, max_concurrent, per_minute)
        made.append(limiter)
        return limiter

    if request.param == "redis":
        await skip_unless_redis()
    yield build
    for limiter in made:
        await limiter.close()


async def test_concurrent_slots_are_capped_and_given_back(
    limiter_factory: Callable[[int, int], TenantLimiter],
) -> None:
    limiter = limiter_factory(2, 1000)
    tenant = f"ten_{uuid.uuid4().hex}"
    async with limiter.slot(tenant), limiter.slot(tenant):
        with pytest.raises(TooManyRequests) as refused:
            async with limiter.slot(tenant):
                pass
        assert refused.value.headers["Retry-After"] == "1"
        async with limiter.slot(f"ten_{uuid.uuid4().hex}"):
            pass  # another tenant is not affected
    async with limiter.slot(tenant):
        pass  # slots came back


async def test_requests_per_minute_are_capped(
    limiter_factory: Callable[[int, int], TenantLimiter],
) -> None:
    limiter = limiter_factory(100, 3)
    tenant = f"ten_{uuid.uuid4().hex}"
    for _ in range(3):
        async with limiter.slot(tenant):
            pass
    with pytest.raises(TooManyRequests) as refused:
        async with limiter.slot(tenant):
            pass
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60


async def test_a_request_refused_for_concurrency_does_not_use_up_the_minute(
    limiter_factory: Callable[[int, int], TenantLimiter],
) -> None:
    """A client backing off while its tenant is busy used to spend the tenant's rate on
    requests that never ran, and was then refused for the rest of the minute."""
    limiter = limiter_factory(1, 3)
    tenant = f"ten_{uuid.uuid4().hex}"
    async with limiter.slot(tenant):
        for _ in range(5):
            with pytest.raises(TooManyRequests) as refused:
                async with limiter.slot(tenant):
                    pass
            assert "already has 1 synthesis requests running" in refused.value.detail
    for _ in range(2):  # the minute's second and third requests
        async with limiter.slot(tenant):
            pass


async def test_a_request_refused_for_the_rate_gives_its_slot_back(
    limiter_factory: Callable[[int, int], TenantLimiter],
) -> None:
    limiter = limiter_factory(1, 1)
    tenant = f"ten_{uuid.uuid4().hex}"
    async with limiter.slot(tenant):
        pass
    for _ in range(3):
        with pytest.raises(TooManyRequests) as refused:
            async with limiter.slot(tenant):
                pass
        assert "requests a minute" in refused.value.detail  # not "already running"


async def _second_replica_is_refused(slot_ttl_s: float = 30.0, held_s: float = 0.0) -> None:
    """Replica one holds the tenant's only slot for ``held_s``; replica two is refused."""
    first = RedisLimiter(REDIS_URL, 1, 1000, slot_ttl_s)
    second = RedisLimiter(REDIS_URL, 1, 1000, slot_ttl_s)
    tenant = f"ten_{uuid.uuid4().hex}"
    try:
        async with first.slot(tenant):
            await asyncio.sleep(held_s)
            with pytest.raises(TooManyRequests):
                async with second.slot(tenant):
                    pass
    finally:
        await first.close()
        await second.close()


async def test_redis_limit_is_shared_between_replicas() -> None:
    await skip_unless_redis()
    await _second_replica_is_refused()


async def test_a_dead_replicas_request_slots_lapse_within_the_ttl() -> None:
    """A replica killed mid-request left its tenants' slots for 15 minutes: one crash
    locked a busy tenant out with 429s on every replica (helper-63)."""
    await skip_unless_redis()
    default = RedisLimiter(REDIS_URL, 1, 1000)
    assert default.slot_ttl_s <= 60  # the lockout a crash can cause, at most
    await default.close()
    survivor = RedisLimiter(REDIS_URL, 1, 1000, slot_ttl_s=0.3)
    tenant = f"ten_{uuid.uuid4().hex}"
    client = redis.from_url(REDIS_URL)
    try:
        # What the dead replica left: a slot whose deadline nobody pushes any more.
        await client.zadd(f"scaispeak:running:{tenant}", {"orphan": time.time() + 0.3})
        with pytest.raises(TooManyRequests):
            async with survivor.slot(tenant):
                pass
        await asyncio.sleep(0.4)
        async with survivor.slot(tenant):
            pass
    finally:
        await client.aclose()
        await survivor.close()


async def test_a_long_request_keeps_its_slot_past_the_ttl() -> None:
    await skip_unless_redis()
    # More than three TTLs: only renewal keeps the slot counted.
    await _second_replica_is_refused(slot_ttl_s=0.3, held_s=1.0)
