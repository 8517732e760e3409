"""aiosqlite connections that run each SQL statement in one hop to their thread.

aiosqlite runs every call on the connection's own thread, and SQLAlchemy's adapter
makes four such calls per query (open a cursor, execute, fetch the rows, close the
cursor) and three per write. Each hop is a queue hand-off and a wake-up of the event
loop: about 0.15 ms on the 2-core benchmark machine, so a request's few queries spent
more time handing off than in SQLite. Here the cursor does all of it in one hop (the
rows are fetched there, as SQLAlchemy's adapter fetches them anyway for a non-streaming
cursor), and a commit or rollback with no transaction open costs none. Measured by
bench/sqlite_driver.py (docs/benchmarks.md).

This leans on ``aiosqlite.Connection._execute`` (queue a function on the connection's
thread), which is private; the whole test suite runs on this driver, so a release that
changes it fails loudly, and pyproject.toml bounds the version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite


@dataclass(frozen=True)
class _Outcome:
    rows: list[Any]
    description: Any
    rowcount: int
    lastrowid: int | None


def _run(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    """On the connection's thread: the whole statement, its rows and its counts."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Outcome(rows, cursor.description, cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


class OneHopCursor:
    """The part of aiosqlite's cursor that SQLAlchemy's adapter uses, buffered."""

    def __init__(self, connection: OneHopConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneHopCursor:
        return self  # nothing to open: the statement opens its own sqlite3 cursor

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = ()) -> OneHopCursor:
        return await self._run(sql, parameters, many=False)

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> OneHopCursor:
        return await self._run(sql, parameters, many=True)

    async def _run(self, sql: str, parameters: Any, *, many: bool) -> OneHopCursor:
        outcome = await self._connection.run_on_thread(
            _run, self._connection.sqlite, sql, parameters, many
        )
        self._rows = outcome.rows
        self.description = outcome.description
        self.rowcount = outcome.rowcount
        self.lastrowid = outcome.lastrowid
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = size or self.arraysize
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []

    async def nextset(self) -> None:
        return None  # sqlite3 has one result set per statement


class OneHopConnection(aiosqlite.Connection):
    def cursor(self) -> OneHopCursor:  # type: ignore[override]
        return OneHopCursor(self)

    # sqlite3 opens a transaction only before a write, so a session that only read
    # has nothing to end; SQLAlchemy still rolls it back twice (the session, then the
    # pool's reset on return). ``in_transaction`` is a flag read, and no statement of
    # this connection is in flight while SQLAlchemy ends its transaction.

    async def commit(self) -> None:
        if self._conn.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self._conn.in_transaction:
            await super().rollback()

    @property
    def sqlite(self) -> sqlite3.Connection:
        return self._conn

    def run_on_thread(self, fn: Callable[..., _Outcome], *args: Any) -> Awaitable[_Outcome]:
        result: Awaitable[_Outcome] = self._execute(fn, *args)  # type: ignore[no-untyped-call]
        return result


async def one_hop_connect(database: str, **kwargs: Any) -> OneHopConnection:
    """Like ``await aiosqlite.connect(...)``: start the thread, connect, return it."""

    def connector() -> sqlite3.Connection:
        opened: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return opened

    connection = OneHopConnection(connector, iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy does: never hold up interpreter exit
    await connection
    return connection
