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
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Protocol

from redis.exceptions import RedisError

from scaispeak.platform.limits import REDIS_TIMEOUTS, LimiterUnavailable
from scaispeak.speak.streaming.protocol import TooManyStreams

_log = logging.getLogger(__name__)


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
        self._redis = redis.from_url(url, **REDIS_TIMEOUTS)
        self.ttl_s = ttl_s

    @asynccontextmanager
    async def slot(self, tenant_id: str, cap: int) -> AsyncIterator[None]:
        key = f"scaispeak:streams:{tenant_id}"
        member = uuid.uuid4().hex
        holders = await self._take(key, member)
        if holders > cap:
            await self._give_back(key, member)
            raise _too_many(holders - 1, cap)
        renewing = asyncio.create_task(self._renew(key, member))
        try:
            yield
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            await self._give_back(key, member)

    async def _take(self, key: str, member: str) -> int:
        """Add ``member`` to the tenant's slots; returns how many are held with it.

        Raises LimiterUnavailable (503) when Redis cannot be reached: a stream that
        cannot be counted is not opened, and the client is told to retry."""
        now = time.time()
        pipe = self._redis.pipeline()
        pipe.zremrangebyscore(key, 0, now)  # slots of replicas that stopped renewing
        pipe.zadd(key, {member: now + self.ttl_s})
        pipe.zcard(key)
        pipe.expire(key, self._key_ttl_s)
        try:
            holders: int = (await pipe.execute())[2]
        except (RedisError, OSError) as exc:
            _log.warning("open streams in Redis cannot be counted: %s", exc)
            await self._give_back(key, member)  # the add may have landed, its answer lost
            raise LimiterUnavailable(
                "Open streams cannot be counted right now; retry shortly."
            ) from exc
        return holders

    async def _give_back(self, key: str, member: str) -> None:
        # Best effort: if Redis is unreachable now, the slot lapses within one TTL.
        with contextlib.suppress(RedisError, OSError):
            await self._redis.zrem(key, member)

    async def _renew(self, key: str, member: str) -> None:
        """Push the slot's deadline forward while the stream lasts (streams outlive TTLs).

        A failed renewal is retried at the next tick rather than ending the task: the
        stream is still open, so its slot must keep counting once Redis is back."""
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self._push_deadline(key, member)
            except (RedisError, OSError) as exc:
                _log.warning("could not renew a shared stream slot, retrying: %s", exc)

    async def _push_deadline(self, key: str, member: str) -> None:
        deadline = time.time() + self.ttl_s
        pipe = self._redis.pipeline()
        pipe.zadd(key, {member: deadline}, xx=True, ch=True)  # 0: the slot is gone
        pipe.expire(key, self._key_ttl_s)
        if (await pipe.execute())[0]:
            return
        # It lapsed while Redis was out of reach (or pruned after a stall): the stream
        # is still open, so it counts again, even if that puts the tenant over its cap.
        _log.warning("a shared stream slot lapsed while its stream was open; re-adding it")
        pipe = self._redis.pipeline()
        pipe.zadd(key, {member: deadline})
        pipe.expire(key, self._key_ttl_s)
        await pipe.execute()

    @property
    def _key_ttl_s(self) -> int:
        """The whole set expires a little after its longest-lived slot could."""
        return int(self.ttl_s) + 1

    async def close(self) -> None:
        await self._redis.aclose()


def _too_many(open_now: int, cap: int) -> TooManyStreams:
    return TooManyStreams(f"This tenant already has {open_now} open streams; the limit is {cap}.")
