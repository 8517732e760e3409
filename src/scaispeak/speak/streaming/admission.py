"""How many streams each tenant holds open, and the per-tenant cap.

Every process counts the streams it serves (``count``: idle checks, shutdown). The cap
itself is applied to that local count on one machine, and to a count shared by every
API replica when Redis is configured (``RedisStreamSlots``): a tenant cannot open
``cap`` streams on each replica. A shared slot carries a deadline that its holder keeps
pushing forward, so a replica that dies mid-stream frees its slots within one TTL.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Protocol

from scaispeak.platform.leased_slots import LeasedSlots
from scaispeak.platform.limits import REDIS_TIMEOUTS, refused_if_unreachable
from scaispeak.speak.streaming.protocol import TooManyStreams


class SharedSlots(Protocol):
    def slot(self, tenant_id: str, cap: int) -> AbstractAsyncContextManager[None]:
        """Hold one of the tenant's ``cap`` slots while the block runs."""
        ...

    async def close(self) -> None: ...


class ActiveStreams:
    def __init__(self, shared: SharedSlots | None = None) -> None:
        self._open: Counter[str] = Counter()
        self.shared = shared

    def count(self, tenant_id: str | None = None) -> int:
        """Open streams of ``tenant_id``, or of every tenant, in this process."""
        return self._open[tenant_id] if tenant_id else self._open.total()

    @asynccontextmanager
    async def hold(self, tenant_id: str, cap: int) -> AsyncIterator[None]:
        """Count one stream for ``tenant_id`` while the block runs; raises TooManyStreams."""
        if self.shared is None:
            if self._open[tenant_id] >= cap:
                raise _too_many(self._open[tenant_id], cap)
            with self._counted(tenant_id):
                yield
            return
        async with self.shared.slot(tenant_id, cap):
            with self._counted(tenant_id):
                yield

    @contextmanager
    def _counted(self, tenant_id: str) -> Iterator[None]:
        """One more local stream of ``tenant_id`` while the block runs."""
        self._open[tenant_id] += 1
        try:
            yield
        finally:
            self._open[tenant_id] -= 1
            if not self._open[tenant_id]:
                del self._open[tenant_id]


class RedisStreamSlots:
    """The tenant's open streams as leased slots in Redis (``platform/leased_slots.py``)."""

    def __init__(self, url: str, ttl_s: float = 60.0) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, **REDIS_TIMEOUTS)
        self._slots = LeasedSlots(self._redis, ttl_s)

    @property
    def ttl_s(self) -> float:
        return self._slots.ttl_s

    @asynccontextmanager
    async def slot(self, tenant_id: str, cap: int) -> AsyncIterator[None]:
        key = f"scaispeak:streams:{tenant_id}"
        member = uuid.uuid4().hex
        unreachable = "Open streams cannot be counted right now; retry shortly."
        # A stream that cannot be counted is not opened, and the client is told to retry.
        async with refused_if_unreachable(self._slots, key, member, unreachable):
            holders = await self._slots.take(key, member)
        if holders > cap:
            await self._slots.give_back(key, member)
            raise _too_many(holders - 1, cap)
        async with self._slots.held(key, member):
            yield

    async def close(self) -> None:
        await self._redis.aclose()


def _too_many(open_now: int, cap: int) -> TooManyStreams:
    return TooManyStreams(f"This tenant already has {open_now} open streams; the limit is {cap}.")
