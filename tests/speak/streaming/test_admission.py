"""The per-tenant stream cap: in one process, and across replicas sharing Redis."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import redis.asyncio as redis

from scaispeak.speak.streaming.admission import ActiveStreams, RedisStreamSlots
from scaispeak.speak.streaming.protocol import TooManyStreams
from tests.support.redis_probe import REDIS_URL, skip_unless_redis


async def test_local_cap_counts_this_process() -> None:
    streams = ActiveStreams()
    async with AsyncExitStack() as held:
        for _ in range(2):
            await held.enter_async_context(streams.hold("ten_a", 2))
        with pytest.raises(TooManyStreams):
            await held.enter_async_context(streams.hold("ten_a", 2))
        await held.enter_async_context(streams.hold("ten_b", 2))  # another tenant's own cap
        assert (streams.count("ten_a"), streams.count()) == (2, 3)
    assert streams.count() == 0


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[ActiveStreams, ActiveStreams]]:
    """Two API replicas' stream counters sharing one Redis, with a short slot TTL."""
    await skip_unless_redis()
    first, second = RedisStreamSlots(REDIS_URL, ttl_s=0.3), RedisStreamSlots(REDIS_URL, ttl_s=0.3)
    yield ActiveStreams(first), ActiveStreams(second)
    await first.close()
    await second.close()


async def test_the_cap_spans_replicas(replicas: tuple[ActiveStreams, ActiveStreams]) -> None:
    a, b = replicas
    tenant = f"ten_{uuid.uuid4().hex}"
    async with AsyncExitStack() as held:
        await held.enter_async_context(a.hold(tenant, 2))
        await held.enter_async_context(b.hold(tenant, 2))
        for replica in (a, b):  # each replica holds only one, but the tenant holds two
            with pytest.raises(TooManyStreams):
                await held.enter_async_context(replica.hold(tenant, 2))
        assert (a.count(tenant), b.count(tenant)) == (1, 1)
    async with a.hold(tenant, 2), b.hold(tenant, 2):  # released slots are free again
        pass


async def test_a_long_stream_keeps_its_slot_past_the_ttl(
    replicas: tuple[ActiveStreams, ActiveStreams],
) -> None:
    a, b = replicas
    tenant = f"ten_{uuid.uuid4().hex}"
    async with a.hold(tenant, 1):
        await asyncio.sleep(1.0)  # more than three TTLs: only renewal keeps it counted
        with pytest.raises(TooManyStreams):
            async with b.hold(tenant, 1):
                pass


async def test_a_dead_replicas_slot_lapses_within_the_ttl(
    replicas: tuple[ActiveStreams, ActiveStreams],
) -> None:
    _a, b = replicas
    tenant = f"ten_{uuid.uuid4().hex}"
    client = redis.from_url(REDIS_URL)
    try:
        # What a replica killed mid-stream leaves: a slot nobody renews any more.
        await client.zadd(f"scaispeak:streams:{tenant}", {"orphan": time.time() + 0.3})
        with pytest.raises(TooManyStreams):
            async with b.hold(tenant, 1):
                pass
        await asyncio.sleep(0.4)
        async with b.hold(tenant, 1):
            pass
    finally:
        await client.aclose()
