"""Replicas and workers that start together on a fresh database all migrate it.

Each runs the upgrade on start (serve, worker, migrate); they used to create the same
types and tables at once, and all but one crashed (PostgreSQL and SQLite alike).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from scaispeak.platform.db import Database
from scaispeak.platform.migrate import alembic_config
from tests.conftest import POSTGRES_ADMIN_URL, _postgres_answers

PROCESSES = 3

# Imports first, then waits for "go" on stdin: every process starts migrating at once.
_MIGRATOR = """
import asyncio, sys
from scaispeak.platform.db import Database
from scaispeak.platform.migrate import upgrade_to_head

async def migrate(url):
    db = Database(url)
    try:
        await upgrade_to_head(db.engine)
    finally:
        await db.dispose()

print("ready", flush=True)
sys.stdin.readline()
asyncio.run(migrate(sys.argv[1]))
"""


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new, empty database of this test's own (a PostgreSQL one is dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    if not _postgres_answers():
        pytest.skip(f"no PostgreSQL answers at {POSTGRES_ADMIN_URL}")
    name = f"scaispeak_migrate_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _start_migrators(url: str) -> list[subprocess.Popen[str]]:
    """Start the processes and return once every one waits, imported, for the signal."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATOR, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    return procs


def _release_together(procs: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    """Let every process migrate at once; returns each one's exit code and last error."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outcomes = []
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        errors = [line for line in err.splitlines() if "Error" in line]
        outcomes.append((proc.returncode, "".join(errors[-1:])))
    return outcomes


async def _revision_of(url: str) -> object:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar()
    finally:
        await db.dispose()


def test_processes_starting_together_all_migrate_a_fresh_database(fresh_database: str) -> None:
    outcomes = _release_together(_start_migrators(fresh_database))

    assert [code for code, _error in outcomes] == [0] * PROCESSES, outcomes
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert asyncio.run(_revision_of(fresh_database)) == head
