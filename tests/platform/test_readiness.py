"""/readyz checks each dependency a request needs: database, storage and Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

from scaispeak.platform.db import Database
from scaispeak.platform.readiness import (
    check_all,
    database_probe,
    probes_for,
    redis_probe,
    storage_probe,
)
from scaispeak.platform.storage import LocalBlobStore
from scaispeak.platform.storage.base import BlobStat
from scaispeak.platform.storage.s3 import S3BlobStore
from tests.support.redis_probe import REDIS_URL, skip_unless_redis
from tests.support.server import free_port


async def test_each_probe_is_reported_and_a_hung_one_fails_within_its_deadline() -> None:
    async def answers() -> None:
        return None

    async def refuses() -> None:
        raise ConnectionRefusedError("down")

    async def hangs() -> None:
        await asyncio.sleep(60)

    checks = await asyncio.wait_for(
        check_all({"a": answers, "b": refuses, "c": hangs}, timeout_s=0.2), timeout=5
    )
    assert checks == {"a": True, "b": False, "c": False}


async def test_storage_whose_endpoint_does_not_answer_is_not_ready(tmp_path: Path) -> None:
    down = f"s3://media?endpoint=http://127.0.0.1:{free_port()}&region=us-east-1"
    probes = {
        "down": storage_probe(S3BlobStore.from_url(down, "key-id", "secret")),
        "local": storage_probe(LocalBlobStore(tmp_path)),
    }
    assert await check_all(probes) == {"down": False, "local": True}


async def test_redis_is_checked_only_where_it_is_configured(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    store = LocalBlobStore(tmp_path / "blobs")
    try:
        embedded = probes_for(db, store, None)
        assert await check_all(embedded) == {"database": True, "storage": True}
        unreachable = probes_for(db, store, f"redis://127.0.0.1:{free_port()}/0")
        assert (await check_all(unreachable))["redis"] is False
    finally:
        await db.dispose()


async def test_a_reachable_redis_is_ready() -> None:
    await skip_unless_redis()
    assert await check_all({"redis": redis_probe(REDIS_URL)}) == {"redis": True}


async def test_a_database_that_does_not_answer_is_not_ready() -> None:
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test")
    try:
        assert await check_all({"database": database_probe(db)}) == {"database": False}
    finally:
        await db.dispose()


class _LeastPrivilegeStore(LocalBlobStore):
    """S3 with a role that may read and write but not list: a missing key is a 403."""

    async def stat(self, key: str) -> BlobStat:
        if not await super().exists(key):
            raise PermissionError(f"403 Forbidden: {key}")
        return await super().stat(key)


async def test_a_store_that_refuses_lookups_of_missing_keys_becomes_ready(tmp_path: Path) -> None:
    store = _LeastPrivilegeStore(tmp_path)
    probe = storage_probe(store)
    assert await check_all({"storage": probe}) == {"storage": True}
    assert await check_all({"storage": probe}) == {"storage": True}
