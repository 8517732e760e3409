"""Per-tenant concurrency and rate limits: in process, or shared through Redis.

Embedded mode counts in memory; with ``SCAISPEAK_REDIS_URL`` every API replica shares
counters in Redis, so a tenant's limit holds across the whole deployment.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from redis.exceptions import RedisError

from scaispeak.platform.errors import ServiceError, Unavailable
from scaispeak.platform.leased_slots import LeasedSlots

_log = logging.getLogger(__name__)

LIMITER_RETRY_AFTER_S = 5
"""How long a client is told to wait when the shared counters (Redis) cannot be reached."""

REDIS_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}
"""A Redis that drops packets (not one that refuses) would otherwise hold each request
for the operating system's TCP timeout, minutes, instead of the prompt 503."""


class TooManyRequests(ServiceError):
    status, code, title = 429, "rate_limited", "Too many requests"


class LimiterUnavailable(Unavailable):
    """The shared per-tenant counters (Redis) cannot be reached: nothing was started."""

    code, title = "limiter_unavailable", "Limits unavailable"

    retry_after = LIMITER_RETRY_AFTER_S


@asynccontextmanager
async def refused_if_unreachable(
    slots: LeasedSlots, key: str, member: str, detail: str
) -> AsyncIterator[None]:
    """Around taking ``member``'s slot in ``key``: where Redis cannot be reached, the
    slot is given back (its add may have landed, the answer lost) and the caller gets
    ``503 limiter_unavailable`` with ``detail``; nothing is started uncounted."""
    try:
        yield
    except (RedisError, OSError) as exc:
        await slots.give_back(key, member)
        _log.warning("%s (%s)", detail, exc)
        raise LimiterUnavailable(detail) from exc


class TenantLimiter(Protocol):
    def slot(self, tenant_id: str) -> AbstractAsyncContextManager[None]:
        """Hold one of the tenant's concurrent slots; raises TooManyRequests, or
        LimiterUnavailable when shared counters cannot be reached."""
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
            # Concurrency first: a request refused for it did not run, so it does not
            # count against the minute (a client backing off would use its rate up).
            if self._running[tenant_id] >= self.max_concurrent:
                raise _concurrency_error(self.max_concurrent)
            self._count_request(tenant_id)
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
    """The same limits in Redis: leased running slots and a per-minute counter.

    A running slot lives while its request renews it (``platform/leased_slots.py``), so
    a replica that dies mid-request frees its tenants' slots within ``slot_ttl_s``: with
    a fixed 15-minute deadline, one crash left a busy tenant locked out with 429s on
    every replica (helper-63). Giving a slot back is best effort for the same reason: a
    request that has done its work never fails because Redis went away meanwhile.
    """

    def __init__(
        self, url: str, max_concurrent: int, per_minute: int, slot_ttl_s: float = 30.0
    ) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, **REDIS_TIMEOUTS)
        self._slots = LeasedSlots(self._redis, slot_ttl_s)
        self.max_concurrent = max_concurrent
        self.per_minute = per_minute

    @property
    def slot_ttl_s(self) -> float:
        return self._slots.ttl_s

    @asynccontextmanager
    async def slot(self, tenant_id: str) -> AsyncIterator[None]:
        key = f"scaispeak:running:{tenant_id}"
        member = uuid.uuid4().hex
        unreachable = "The per-tenant limits cannot be checked right now; retry shortly."
        try:
            async with refused_if_unreachable(self._slots, key, member, unreachable):
                running = await self._slots.take(key, member)
                admitted = running <= self.max_concurrent
                if admitted:  # as in MemoryLimiter, only a request that may run counts
                    await self._count_request(tenant_id)
        except TooManyRequests:
            await self._slots.give_back(key, member)
            raise
        if not admitted:
            await self._slots.give_back(key, member)
            raise _concurrency_error(self.max_concurrent)
        async with self._slots.held(key, member):
            yield

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
        f"Your tenant already has {limit} synthesis requests running; retry shortly.",
        retry_after=1,
        limit=limit,
    )


def _rate_error(limit: int, retry_after: int | None = None) -> TooManyRequests:
    wait = retry_after if retry_after is not None else 60 - int(time.time() % 60)
    return TooManyRequests(
        f"Your tenant may send {limit} requests a minute.", retry_after=max(1, wait), limit=limit
    )
