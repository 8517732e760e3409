"""Timestamps come back from the database aware and in UTC, on SQLite as on PostgreSQL.

SQLite has no zone-aware type: without help, a ``DateTime(timezone=True)`` column is
written as its wall-clock digits (any offset dropped) and read back naive, so a GET
showed ``2026-12-05T14:10:01`` where the POST had shown ``…Z``. platform/db.py gives
the SQLite engine a DATETIME that writes UTC and reads it back aware, as PostgreSQL's
``timestamptz`` does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import DateTime, func, literal, select, text

from scaispeak.platform.auth.models import Tenant
from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.migrate import upgrade_to_head
from tests.conftest import LiveApp
from tests.support.database import migrated_database

WRITTEN = datetime(2026, 12, 5, 14, 10, 1, 306047, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with migrated_database(database_url) as database:
        yield database


async def write_tenant(db: Database, created_at: datetime) -> str:
    async with db.sessions() as session:
        tenant = Tenant(name=f"stamped-{uuid.uuid4().hex[:8]}", created_at=created_at)
        session.add(tenant)
        await session.commit()
        return tenant.id


def assert_utc(moment: datetime | None) -> datetime:
    assert moment is not None
    assert moment.tzinfo is not None, f"naive timestamp {moment!r}"
    assert moment.utcoffset() == timedelta(0)
    return moment


async def test_a_timestamp_reads_back_aware_utc_in_a_new_session(db: Database) -> None:
    tenant_id = await write_tenant(db, WRITTEN)
    async with db.sessions() as session:
        loaded = await session.get(Tenant, tenant_id)
        latest = await session.scalar(
            select(func.max(Tenant.created_at)).where(Tenant.id == tenant_id)
        )
    assert loaded is not None
    assert assert_utc(loaded.created_at) == WRITTEN
    assert loaded.created_at < utcnow()  # aware against aware: no TypeError
    assert assert_utc(latest) == WRITTEN  # an expression of the column's type, too


async def test_an_offset_timestamp_is_stored_as_the_same_instant(db: Database) -> None:
    tenant_id = await write_tenant(db, WRITTEN.astimezone(timezone(timedelta(hours=2))))
    async with db.sessions() as session:
        loaded = await session.get(Tenant, tenant_id)
        # SQL comparisons see the instant too, whatever offset a bound is given in.
        found = await session.scalar(
            select(Tenant.id).where(
                Tenant.id == tenant_id,
                Tenant.created_at > WRITTEN - SECOND,
                Tenant.created_at < (WRITTEN + SECOND).astimezone(timezone(timedelta(hours=-5))),
            )
        )
    assert loaded is not None
    assert assert_utc(loaded.created_at) == WRITTEN
    assert found == tenant_id


async def test_sqlite_rows_already_stored_read_back_as_utc(tmp_path: Path) -> None:
    # What SQLAlchemy has always written (naive UTC text), and SQLite's CURRENT_TIMESTAMP.
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'stored.db'}")
    try:
        await upgrade_to_head(db.engine)
        async with db.sessions() as session:
            await session.execute(
                text(
                    "INSERT INTO tenants (id, name, created_at) VALUES "
                    "('ten_micro', 'a', '2026-12-05 14:10:01.306047'), "
                    "('ten_whole', 'b', '2026-12-05 14:10:01')"
                )
            )
            await session.commit()
        async with db.sessions() as session:
            rows = await session.execute(select(Tenant.id, Tenant.created_at))
            stamps = {tenant_id: created_at for tenant_id, created_at in rows}
    finally:
        await db.dispose()
    assert assert_utc(stamps["ten_micro"]) == WRITTEN
    assert assert_utc(stamps["ten_whole"]) == WRITTEN.replace(microsecond=0)


async def test_a_timestamp_read_back_over_the_api_names_utc(live: LiveApp) -> None:
    root = live.auth(live.tenancy.superadmin)
    made = await live.client.post("/v1/tenants", json={"name": "stamped"}, headers=root)
    assert made.status_code == 201, made.text
    listed = await live.client.get("/v1/tenants", headers=root)
    assert listed.status_code == 200, listed.text
    [stamp] = [t["created_at"] for t in listed.json() if t["id"] == made.json()["id"]]
    assert stamp.endswith(("Z", "+00:00")), stamp
    assert datetime.fromisoformat(stamp) == datetime.fromisoformat(made.json()["created_at"])


@pytest.mark.postgres
async def test_postgres_sessions_count_days_in_utc_whatever_the_servers_zone(
    own_postgres_url: str,
) -> None:
    """Usage reports group by ``date(created_at)``, which follows the session's zone:
    a server set up in New York put 01:00 UTC on the day before."""
    name = own_postgres_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(own_postgres_url.replace("+asyncpg", ""))
    try:
        await admin.execute(f"ALTER DATABASE \"{name}\" SET timezone TO 'America/New_York'")
    finally:
        await admin.close()
    db = Database(own_postgres_url)
    try:
        for _ in range(2):  # a fresh connection, then one back from the pool
            async with db.sessions() as session:
                moment = datetime(2024, 5, 2, 1, 0, tzinfo=UTC)
                day = await session.scalar(
                    select(func.date(literal(moment, DateTime(timezone=True))))
                )
                assert str(day) == "2024-05-02"
                await session.rollback()
    finally:
        await db.dispose()
