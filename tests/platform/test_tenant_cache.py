"""The per-replica policy cache: fresh copies are reused, stale ones re-read, and a
save through this replica applies at once, even over a read that was in flight."""

from __future__ import annotations

import asyncio

from scaispeak.platform.tenant_cache import TenantCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Store:
    """Stands in for the database: counts reads, can hold one until released."""

    def __init__(self, value: str) -> None:
        self.value, self.reads = value, 0
        self.gate: asyncio.Event | None = None

    async def read(self) -> str:
        self.reads += 1
        seen = self.value
        if self.gate is not None:
            await self.gate.wait()
        return seen


async def test_a_fresh_copy_is_reused_and_an_expired_one_read_again() -> None:
    clock, store = Clock(), Store("relay")
    cache: TenantCache[str] = TenantCache(5.0, clock)
    assert await cache.get("ten_a", store.read) == "relay"
    store.value = "selfhosted"  # changed through another replica
    clock.now += 4.9
    assert await cache.get("ten_a", store.read) == "relay"
    assert store.reads == 1
    clock.now += 0.2
    assert await cache.get("ten_a", store.read) == "selfhosted"
    assert store.reads == 2


async def test_tenants_do_not_share_copies() -> None:
    cache: TenantCache[str] = TenantCache(5.0, Clock())
    assert await cache.get("ten_a", Store("a").read) == "a"
    assert await cache.get("ten_b", Store("b").read) == "b"


async def test_a_save_here_applies_at_once_even_over_a_read_in_flight() -> None:
    clock, store = Clock(), Store("old")
    cache: TenantCache[str] = TenantCache(5.0, clock)
    store.gate = asyncio.Event()
    reading = asyncio.create_task(cache.get("ten_a", store.read))
    await asyncio.sleep(0)  # the read has seen "old" and waits
    store.value = "new"
    cache.put("ten_a", "new")
    store.gate.set()
    assert await reading == "old"  # that request began before the save
    store.gate = None
    assert await cache.get("ten_a", store.read) == "new"
    assert store.reads == 1


async def test_ttl_zero_reads_every_time() -> None:
    store = Store("relay")
    cache: TenantCache[str] = TenantCache(0, Clock())
    cache.put("ten_a", "ignored")
    for _ in range(3):
        assert await cache.get("ten_a", store.read) == "relay"
    assert store.reads == 3
