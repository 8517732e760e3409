"""Database engine, sessions and the declarative base shared by every table.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) through ``SCAISPEAK_DATABASE_URL``.
The schema is owned by Alembic (``scaispeak migrate``, run on start-up); nothing here
calls ``create_all`` on a product path.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Enum, MetaData, event
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from scaispeak.platform.sqlite_driver import OneHopConnection, one_hop_connect
from scaispeak.settings import Settings

_log = logging.getLogger(__name__)

# Named constraints so Alembic migrations are stable across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def str_enum(cls: type[enum.Enum], length: int = 20) -> Enum:
    """A portable enum column: VARCHAR(``length``) with a CHECK, no native ENUM type.

    Stores member values (the same as names for every enum we have), so the schema is
    identical on SQLite and PostgreSQL and migrations never need ``CREATE TYPE``.
    """
    return Enum(
        cls,
        native_enum=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


def new_id(prefix: str) -> str:
    """A prefixed random id (``ten_…``, ``voc_…``): readable in logs, unguessable."""
    return f"{prefix}_{uuid.uuid4().hex}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        return _create_sqlite_engine(url)
    engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    event.listen(engine.sync_engine, "connect", _utc_session, insert=True)
    return engine


def _utc_session(dbapi_connection: Any, _record: Any) -> None:
    """Every PostgreSQL session in UTC. ``date(created_at)`` and the like follow the
    session's zone, which defaults to whatever the server's initdb found: usage reports
    grouped by day would then shift by the server's offset from the UTC days budgets
    use. Autocommit, as a SET inside a transaction is undone by the pool's rollback."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.autocommit = autocommit


def _create_sqlite_engine(url: str) -> AsyncEngine:
    async def connect() -> OneHopConnection:
        # The dialect's own reading of the URL (path, check_same_thread, uri options).
        sync = engine.sync_engine
        args, kwargs = sync.dialect.create_connect_args(sync.url)
        return await one_hop_connect(*args, timeout=30, **kwargs)

    engine = create_async_engine(url, async_creator=connect)
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    # ``type_descriptor`` reads ``colspecs`` from the dialect instance or its class;
    # this engine's own copy gives every DateTime, column or expression, the UTC type.
    dialect = engine.sync_engine.dialect
    dialect.colspecs = {**dialect.colspecs, DateTime: SQLiteUTCDateTime}
    return engine


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive value is taken to be UTC already (as SQLite stores it)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class SQLiteUTCDateTime(SQLITE_DATETIME):
    """SQLite's DATETIME, made to keep ``DateTime(timezone=True)``'s promise.

    SQLite has no zone-aware type: SQLAlchemy writes the wall-clock digits of a value
    and drops its offset, and reads them back naive. For a ``timezone=True`` column this
    type writes the value converted to UTC (the text format stays the same, so stored
    rows, ordering and SQL comparisons are unchanged) and reads it back as aware UTC,
    as PostgreSQL's ``timestamptz`` does. Plain ``DateTime`` columns stay naive.
    """

    def bind_processor(self, dialect: Dialect) -> Any:
        write = super().bind_processor(dialect)
        assert write is not None  # SQLite's DATETIME always formats its own text
        if not self.timezone:
            return write

        def process(value: Any) -> Any:
            return write(as_utc(value) if isinstance(value, datetime) else value)

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        read = super().result_processor(dialect, coltype)
        assert read is not None
        if not self.timezone:
            return read

        def process(value: Any) -> datetime | None:
            moment = read(value)
            return None if moment is None else as_utc(moment)

        return process


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; foreign keys are off by default in SQLite.
    # synchronous=NORMAL is WAL's recommended setting: no fsync per commit, and still
    # never corrupt; a power cut may lose only the last commits.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # SQLite's lower() folds ASCII only, so a search for "émile" (lowered in Python)
    # never found "Émile"; Python's, as PostgreSQL's does, folds every script.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def open_database(settings: Settings) -> Database:
    """The service's database. With Redis (distributed mode) on SQLite, every process
    must name the same file: a worker left on its own default file took the API's job
    messages, found no such jobs, and those waited (docs/deploy.md)."""
    url = settings.resolved_database_url
    if settings.redis_url and url.startswith("sqlite"):
        _log.warning(
            "distributed mode (SCAISPEAK_REDIS_URL) on SQLite: every API and worker "
            "process must use this same file; across hosts set SCAISPEAK_DATABASE_URL "
            "to PostgreSQL"
        )
    return Database(url)


class Database:
    """The engine and a session factory; one per application."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


M = TypeVar("M")


async def put_row(
    session: AsyncSession,
    find: Callable[[], Awaitable[M | None]],
    new: Callable[[], M],
    change: Callable[[M], Awaitable[None]],
) -> M:
    """Create or change one row by its key, and commit: an idempotent PUT's write.

    Two first PUTs at once (a client's retry racing its first try) both find no row
    and both insert; the second insert fails on the key and was a 500. It is rolled
    back and done again as a change of the row the first one made.
    """
    for last_try in (False, True):
        try:
            row = await find() or new()
            await change(row)  # may flush the new row (a query in it autoflushes)
            session.add(row)
            await session.commit()
            return row
        except IntegrityError:
            await session.rollback()
            if last_try:
                raise
    raise AssertionError("unreachable")


# Serialization failure, deadlock; connection exceptions; the server shutting down.
_TRANSIENT_SQLSTATES = ("40001", "40P01", "08", "57P01", "57P02", "57P03")
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_transient(exc: BaseException) -> bool:
    """A database error that says nothing of the work that met it: the connection
    dropped or was refused, the server restarted or failed over, the pool had no free
    connection, SQLite stayed locked, or the transaction lost a deadlock or a
    serialization race. The same work may succeed when it is tried again.

    Not every OperationalError or InterfaceError: SQLite reports a missing table or a
    syntax error as one, and asyncpg too many parameters; those are bugs, which a retry
    would only repeat."""
    if isinstance(exc, ConnectionError | SQLAlchemyTimeoutError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc.orig, ConnectionError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate.startswith(_TRANSIENT_SQLSTATES):
        return True
    return isinstance(exc, OperationalError) and str(exc.orig).startswith(_SQLITE_BUSY)
