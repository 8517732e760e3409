"""Readiness probes: can this process serve a request end to end right now?

Each probe names a dependency every request or job needs (the database, blob storage,
Redis when it is configured) and either returns or raises. `/readyz` runs them
together, each under a short deadline: a storage endpoint that drops packets must turn
the replica unready within seconds, not hang the orchestrator's probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy import text

from scaispeak.platform.db import Database
from scaispeak.platform.limits import REDIS_TIMEOUTS
from scaispeak.platform.migrate import upgrade_to_head
from scaispeak.platform.storage.base import PROBE_PREFIX, BlobStore, check_round_trip

_log = logging.getLogger("scaispeak.readiness")

Probe = Callable[[], Awaitable[object]]
"""Returns when the dependency answers; raises (or hangs) when it does not."""

PROBE_TIMEOUT_S = 2.0


async def check_all(
    probes: Mapping[str, Probe], timeout_s: float = PROBE_TIMEOUT_S
) -> dict[str, bool]:
    """Each probe's outcome by name: True when it returned within ``timeout_s``."""
    names = list(probes)
    outcomes = await asyncio.gather(*(_passes(name, probes[name], timeout_s) for name in names))
    return dict(zip(names, outcomes, strict=True))


async def _passes(name: str, probe: Probe, timeout_s: float) -> bool:
    try:
        await asyncio.wait_for(probe(), timeout_s)
    except Exception as exc:  # readiness must report, never raise
        _log.warning("readiness check %r failed: %r", name, exc)
        return False
    return True


def database_probe(db: Database) -> Probe:
    async def probe() -> None:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return probe


READINESS_KEY = f"{PROBE_PREFIX}/readiness"


def storage_probe(store: BlobStore) -> Probe:
    """A lookup of a small blob kept for the purpose: one cheap request that needs the
    store's endpoint, its credentials and its bucket. A missing key cannot be the test:
    S3 answers 404 for it whether or not the bucket exists, and 403 where the role may
    not list the bucket. When the read fails (the first probe, a cleanup, that 403) the
    blob is written, and the write decides: it fails where the bucket is gone, the
    credentials are refused or the endpoint is down."""

    async def probe() -> None:
        try:
            await store.stat(READINESS_KEY)
        except Exception:  # whatever the read met, the write below gives the verdict
            await store.put_bytes(READINESS_KEY, b"ready")

    return probe


def redis_probe(url: str) -> Probe:
    """A fresh connection each time: it proves new connections can be made, and leaves
    no client to close (probes come every few seconds at most)."""

    async def probe() -> None:
        import redis.asyncio as redis

        client = redis.from_url(url, **REDIS_TIMEOUTS)
        try:
            await client.ping()
        finally:
            await client.aclose()

    return probe


async def check_dependencies(db: Database, storage: BlobStore, redis_url: str | None) -> None:
    """At start, before the models load: Redis answers, the database is migrated, the
    blob store writes, reads and deletes. Each refuses with its own exception, which
    the CLI turns into one line (a failure inside the server's start-up was a
    10 KB traceback, exit 3)."""
    if redis_url:
        await redis_probe(redis_url)()
    await upgrade_to_head(db.engine)
    await check_round_trip(storage)


def probes_for(db: Database, storage: BlobStore, redis_url: str | None) -> dict[str, Probe]:
    """What a process of this deployment needs to answer: with Redis configured, no
    request passes its limits and no job travels without it."""
    probes = {"database": database_probe(db), "storage": storage_probe(storage)}
    if redis_url:
        probes["redis"] = redis_probe(redis_url)
    return probes
