"""Per-tenant concurrency and rate limits: in process, or shared through Redis.

Embedded mode counts in memory; with ``SCAISPEAK_REDIS_URL`` every API replica shares
counters in Redis, so a tenant's limit holds across the whole deployment.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from scaispeak.platform.errors import ServiceError


class TooManyRequests(ServiceError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.headers["Retry-After"] = str(retry_after)


class TenantLimiter(Protocol):
    def slot(self, tenant_id: str) -> AbstractAsyncContextManager[None]:
        """Hold one of the tenant's concurrent slots; raises TooManyRequests."""
        ...


class MemoryLimiter:
    """Counts in this process: a concurrency gauge and a fixed one-minute window."""

    def __init__(self, max_concurrent: int, per_minute: int) -> None:
        self.max_concurrent = max_concurrent
        self.per_minute = per_minute
        self._running: defaultdict[str, int] = defaultdict(int)
        self._window: dict[str, tuple[int, int]] = {}
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self, tenant_id: str) -> AsyncIterator[None]:
        async with self._lock:
            self._count_request(tenant_id)
            if self._running[tenant_id] >= self.max_concurrent:
                raise _concurrency_error(self.max_concurrent)
            self._running[tenant_id] += 1
        try:
            yield
        finally:
            self._running[tenant_id] -= 1

    def _count_request(self, tenant_id: str) -> None:
        minute = int(time.time() // 60)
        start, count = self._window.get(tenant_id, (minute, 0))
        count = count + 1 if start == minute else 1
        self._window[tenant_id] = (minute, count)
        if count > self.per_minute:
            raise _rate_error(self.per_minute)


class RedisLimiter:
    """The same limits in Redis: a sorted set of running slots and a per-minute counter.

    Running slots carry a deadline, so a replica that dies mid-request cannot leak a
    slot forever: expired entries are dropped before each count.
    """

    def __init__(
        self, url: str, max_concurrent: int, per_minute: int, slot_ttl_s: int = 900
    ) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self.max_concurrent = max_concurrent
        self.per_minute = per_minute
        self.slot_ttl_s = slot_ttl_s

    @asynccontextmanager
    async def slot(self, tenant_id: str) -> AsyncIterator[None]:
        await self._count_request(tenant_id)
        key = f"scaispeak:running:{tenant_id}"
        member = uuid.uuid4().hex
        now = time.time()
        pipe = self._redis.pipeline()
        pipe.zremrangebyscore(key, 0, now)
        pipe.zadd(key, {member: now + self.slot_ttl_s})
        pipe.zcard(key)
        pipe.expire(key, self.slot_ttl_s)
        running = (await pipe.execute())[2]
        if running > self.max_concurrent:
            await self._redis.zrem(key, member)
            raise _concurrency_error(self.max_concurrent)
        try:
            yield
        finally:
            await self._redis.zrem(key, member)

    async def _count_request(self, tenant_id: str) -> None:
        minute = int(time.time() // 60)
        key = f"scaispeak:rate:{tenant_id}:{minute}"
        pipe = self._redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count = (await pipe.execute())[0]
        if count > self.per_minute:
            raise _rate_error(self.per_minute, retry_after=60 - int(time.time() % 60))

    async def close(self) -> None:
        await self._redis.aclose()


def _concurrency_error(limit: int) -> TooManyRequests:
    return TooManyRequests(
        f"Your tenant already has {limit} synthesis requests running; retry shortly.", 1
    )


def _rate_error(limit: int, retry_after: int | None = None) -> TooManyRequests:
    wait = retry_after if retry_after is not None else 60 - int(time.time() % 60)
    return TooManyRequests(f"Your tenant may send {limit} requests a minute.", max(1, wait))
