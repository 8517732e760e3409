"""How many streams each tenant holds open, and the per-tenant cap.

Every process counts the streams it serves (``count``: idle checks, shutdown). The cap
itself is applied to that local count on one machine, and to a count shared by every
API replica when Redis is configured (``RedisStreamSlots``): a tenant cannot open
``cap`` streams on each replica. A shared slot carries a deadline that its holder keeps
pushing forward, so a replica that dies mid-stream frees its slots within one TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Protocol

from redis.exceptions import RedisError

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
    """The tenant's open streams as a Redis sorted set: member = slot, score = deadline."""

    def __init__(self, url: str, ttl_s: float = 60.0) -> None:
        import redis.asyncio as redis

        if ttl_s <= 0:
            raise ValueError("a shared stream slot needs a positive TTL")
        self._redis = redis.from_url(url)
        self.ttl_s = ttl_s

    @asynccontextmanager
    async def slot(self, tenant_id: str, cap: int) -> AsyncIterator[None]:
        key = f"scaispeak:streams:{tenant_id}"
        member = uuid.uuid4().hex
        now = time.time()
        pipe = self._redis.pipeline()
        pipe.zremrangebyscore(key, 0, now)  # slots of replicas that stopped renewing
        pipe.zadd(key, {member: now + self.ttl_s})
        pipe.zcard(key)
        pipe.expire(key, int(self.ttl_s) + 1)
        holders = (await pipe.execute())[2]
        if holders > cap:
            await self._redis.zrem(key, member)
            raise _too_many(holders - 1, cap)
        renewing = asyncio.create_task(self._renew(key, member))
        try:
            yield
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            # Best effort: if Redis is unreachable now, the slot lapses within one TTL.
            with contextlib.suppress(RedisError, OSError):
                await self._redis.zrem(key, member)

    async def _renew(self, key: str, member: str) -> None:
        """Push the slot's deadline forward while the stream lasts (streams outlive TTLs)."""
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            pipe = self._redis.pipeline()
            pipe.zadd(key, {member: time.time() + self.ttl_s}, xx=True)
            pipe.expire(key, int(self.ttl_s) + 1)
            await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()


def _too_many(open_now: int, cap: int) -> TooManyStreams:
    return TooManyStreams(f"This tenant already has {open_now} open streams; the limit is {cap}.")
