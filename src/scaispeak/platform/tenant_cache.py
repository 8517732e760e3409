"""Short-lived, per-process copies of per-tenant settings that every request reads.

A tenant's backend and watermark policies change rarely but are read on every speak
request; each read is a database round trip on the response path. A replica keeps
what it read for ``ttl_s`` seconds. A change saved through this replica replaces its
copy at once (``put``); other replicas see it when their copy expires, so in a
multi-replica deployment a change takes up to ``ttl_s`` to apply everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_TENANTS = 10_000
"""Copies kept at most; beyond that the oldest go first (memory stays bounded)."""


class TenantCache(Generic[T]):
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, T]] = {}
        self._versions: dict[str, int] = {}

    async def get(self, tenant_id: str, load: Callable[[], Awaitable[T]]) -> T:
        """The tenant's value: the kept copy while fresh, else ``load()`` (and keep it)."""
        if self.ttl_s <= 0:
            return await load()
        kept = self._entries.get(tenant_id)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        version = self._versions.get(tenant_id, 0)
        value = await load()
        # A save that landed while we were reading wins: our read may predate it.
        if self._versions.get(tenant_id, 0) == version:
            self._keep(tenant_id, value)
        return value

    def put(self, tenant_id: str, value: T) -> None:
        """Replace the copy with what was just saved, so this replica applies it now."""
        self._versions[tenant_id] = self._versions.get(tenant_id, 0) + 1
        if self.ttl_s > 0:
            self._keep(tenant_id, value)

    def _keep(self, tenant_id: str, value: T) -> None:
        self._entries.pop(tenant_id, None)  # re-inserted last: dict order is age order
        self._entries[tenant_id] = (self._clock() + self.ttl_s, value)
        while len(self._entries) > MAX_TENANTS:
            oldest = next(iter(self._entries))
            del self._entries[oldest]
