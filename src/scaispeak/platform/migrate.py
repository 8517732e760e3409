"""Bring a database's schema to the latest Alembic revision.

Every process runs this on start (``serve``, ``worker``, ``migrate``), and replicas
often start together: the upgrade holds a lock for its whole transaction, so one
process migrates while the others wait and then find the schema at head.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from scaispeak.settings import ConfigurationError

MIGRATION_LOCK_KEY = 0x5CA15BEA_0000_0001
"""The advisory lock (a PostgreSQL bigint) every ScaiSpeak process migrates under."""


def alembic_config(url: str = "") -> Config:
    ini = Path(str(files("scaispeak.migrations").joinpath("alembic.ini")))
    config = Config(str(ini))
    config.set_main_option("script_location", str(ini.parent))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Run pending migrations on the application's own engine (inside its event loop)."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            if "Can't locate revision" not in str(exc):
                raise
            raise _newer_than_this_release(config, exc) from None

    async with engine.begin() as conn:
        await conn.run_sync(run)


def _newer_than_this_release(config: Config, exc: CommandError) -> ConfigurationError:
    """A release rolled back onto a database a newer one migrated: one line saying so,
    where alembic's traceback named neither release."""
    head = ScriptDirectory.from_config(config).get_current_head()
    return ConfigurationError(
        f"the database's schema is newer than this release ({exc}; this release's latest "
        f"is {head!r}): run the release that migrated it, or restore the backup taken "
        "before that upgrade"
    )


def hold_migration_lock(connection: Connection) -> None:
    """Wait until no other process is migrating this database, then keep the others
    waiting until this transaction ends (commit or rollback releases the lock).

    Taken before the schema's revision is read, so whoever waited then sees what the
    previous holder committed (PostgreSQL: READ COMMITTED reads afresh per statement;
    SQLite: the write lock comes with a fresh snapshot)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # sqlite3 opens a transaction only before a write and runs DDL outside one, so
        # two processes would both create the tables. An explicit IMMEDIATE transaction
        # takes the write lock now (others wait out the busy timeout) and holds the
        # whole upgrade; the connection's commit ends it.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
