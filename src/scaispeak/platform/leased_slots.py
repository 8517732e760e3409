"""Slots shared through Redis that live only while their holder keeps them alive.

A sorted set per counter: member = one slot, score = its deadline. Whoever holds a slot
pushes its deadline forward every third of ``ttl_s``; each count first drops the slots
whose deadline has passed. So a replica that dies (kill -9, a lost machine) frees its
slots within one TTL, however long the work it was doing would have lasted, and a
request or stream that outlives any fixed deadline keeps counting. Used for the
per-tenant request limit (``platform/limits.py``) and the per-tenant stream cap
(``speak/streaming/admission.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

if TYPE_CHECKING:
    import redis.asyncio as redis

_log = logging.getLogger(__name__)

RETRY_S = 1.0
"""How soon a renewal that could not reach Redis is tried again."""


class LeasedSlots:
    def __init__(self, client: redis.Redis, ttl_s: float) -> None:
        if ttl_s <= 0:
            raise ValueError("a leased slot needs a positive TTL")
        self._redis = client
        self.ttl_s = ttl_s
        self._unreachable = False
        """Set while renewals fail: an outage is logged once, not once a second per slot."""

    async def take(self, key: str, member: str) -> int:
        """Add ``member`` to ``key``'s live slots; returns how many are live with it.

        Raises RedisError or OSError when Redis cannot be reached: the add may have
        landed with its answer lost, so the caller gives the slot back."""
        now = time.time()
        pipe = self._redis.pipeline()
        pipe.zremrangebyscore(key, 0, now)  # slots whose holders stopped renewing
        pipe.zadd(key, {member: now + self.ttl_s})
        pipe.zcard(key)
        pipe.expire(key, self._key_ttl_s)
        live: int = (await pipe.execute())[2]
        return live

    async def give_back(self, key: str, member: str) -> None:
        """Best effort: a slot Redis cannot drop now lapses within one TTL. The work it
        counted is done (and maybe charged): failing here would answer an error for it."""
        try:
            await self._redis.zrem(key, member)
        except (RedisError, OSError) as exc:
            _log.warning(
                "could not give a shared slot back (%s); it lapses within %s s", exc, self.ttl_s
            )

    @asynccontextmanager
    async def held(self, key: str, member: str) -> AsyncIterator[None]:
        """Keep a taken slot alive while the block runs, then give it back."""
        renewing = asyncio.create_task(self._renew(key, member))
        try:
            yield
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            await self.give_back(key, member)

    async def _renew(self, key: str, member: str) -> None:
        """A failed renewal is retried, every ``RETRY_S``, rather than ending the task:
        the work is still running, so its slot must count again as soon as Redis is back.
        Retried only at the next tick, a third of the TTL (20 s for streams), it let
        other replicas admit past the cap meanwhile (helper-95)."""
        wait = self.ttl_s / 3
        while True:
            await asyncio.sleep(wait)
            try:
                await self._push_deadline(key, member)
            except (RedisError, OSError) as exc:
                self._report_outage(exc)
                wait = min(RETRY_S, self.ttl_s / 3)
            else:
                self._report_recovery()
                wait = self.ttl_s / 3

    def _report_outage(self, exc: Exception) -> None:
        if not self._unreachable:
            _log.warning("could not renew shared slots, retrying every %s s: %s", RETRY_S, exc)
        self._unreachable = True

    def _report_recovery(self) -> None:
        if self._unreachable:
            _log.warning("shared slots are renewed again")
        self._unreachable = False

    async def _push_deadline(self, key: str, member: str) -> None:
        deadline = time.time() + self.ttl_s
        pipe = self._redis.pipeline()
        pipe.zadd(key, {member: deadline}, xx=True, ch=True)  # 0: the slot is gone
        pipe.expire(key, self._key_ttl_s)
        if (await pipe.execute())[0]:
            return
        # It lapsed while Redis was out of reach (or was pruned after a stall): the work
        # is still running, so it counts again, even if that puts the tenant over its cap.
        _log.warning("a shared slot lapsed while its work ran; re-adding it")
        pipe = self._redis.pipeline()
        pipe.zadd(key, {member: deadline})
        pipe.expire(key, self._key_ttl_s)
        await pipe.execute()

    @property
    def _key_ttl_s(self) -> int:
        """The whole set expires a little after its longest-lived slot could."""
        return int(self.ttl_s) + 1
