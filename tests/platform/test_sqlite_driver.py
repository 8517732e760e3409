"""The one-hop SQLite driver (platform/sqlite_driver.py): same results, fewer hand-offs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Integer, String, column, insert, select, table, text, update
from sqlalchemy.exc import IntegrityError

from scaispeak.platform.db import Database
from scaispeak.platform.sqlite_driver import OneHopConnection

items = table("items", column("id", Integer), column("name", String))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'hops.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
    yield database
    await database.dispose()


def count_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the functions queued on connection threads from now on."""
    hops: list[str] = []
    original = OneHopConnection._execute

    async def counted(self: OneHopConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(OneHopConnection, "_execute", counted)
    return hops


async def test_a_reading_session_is_one_hop_and_returns_its_rows(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.sessions() as session:
        await session.execute(insert(items), [{"name": "a"}, {"name": "b"}, {"name": "c"}])
        await session.commit()
    hops = count_hops(monkeypatch)
    async with db.sessions() as session:
        result = await session.execute(select(items.c.id, items.c.name).order_by(items.c.id))
        assert list(result.keys()) == ["id", "name"]  # the description came back too
        assert [tuple(row) for row in result] == [(1, "a"), (2, "b"), (3, "c")]
    # SQLAlchemy's aiosqlite adapter makes six: cursor, execute, fetch, close, and the
    # session's and the pool's rollbacks of a transaction sqlite3 never opened.
    assert hops == ["_run"]


async def test_a_writing_session_is_a_hop_per_statement_and_one_to_commit(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops = count_hops(monkeypatch)
    async with db.sessions() as session:
        await session.execute(insert(items).values(name="w"))
        await session.commit()
    assert hops == ["_run", "commit"]
    async with db.sessions() as session:
        await session.execute(insert(items).values(name="v"))
        await session.rollback()
        assert (await session.execute(text("SELECT count(*) FROM items"))).scalar_one() == 1


async def test_writes_report_rowcount_and_last_row_id(db: Database) -> None:
    async with db.sessions() as session:
        inserted = await session.execute(insert(items).values(name="x"))
        assert inserted.lastrowid == 1  # type: ignore[attr-defined]
        await session.execute(insert(items), [{"name": "y"}, {"name": "z"}])  # executemany
        changed = await session.execute(
            update(items).where(items.c.name != "x").values(name=items.c.name + "!")
        )
        assert changed.rowcount == 2  # type: ignore[attr-defined]
        await session.commit()
        names = (await session.execute(select(items.c.name).order_by(items.c.id))).scalars()
        assert list(names) == ["x", "y!", "z!"]


async def test_errors_surface_as_sqlalchemy_errors_and_roll_back(db: Database) -> None:
    async with db.sessions() as session:
        await session.execute(insert(items).values(name="dup"))
        await session.commit()
        with pytest.raises(IntegrityError):
            await session.execute(insert(items).values(name="dup"))
        await session.rollback()
        count = (await session.execute(text("SELECT count(*) FROM items"))).scalar_one()
        assert count == 1


async def test_fetching_one_at_a_time_reads_the_buffered_rows(db: Database) -> None:
    async with db.engine.connect() as conn:
        await conn.execute(insert(items), [{"name": str(i)} for i in range(5)])
        result = await conn.execute(select(items.c.name).order_by(items.c.id))
        assert result.fetchone() == ("0",)
        assert result.fetchmany(2) == [("1",), ("2",)]
        assert result.fetchall() == [("3",), ("4",)]
