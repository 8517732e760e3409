"""A withdrawn voice's audio is deleted for certain, not at best effort.

Revoking consent, deleting a voice or rejecting its consent document promises that its
reference and embedding are gone. The blob store may fail just then, or the process
may stop right after the commit: so each key is written in the withdrawal's own
commit (``schedule``), deleted just after it (``purge``), and whatever is left is
retried by every serving process (``purge_forever``) until the store answers. The
audit entry's ``blobs_deleted`` names these keys.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.storage import BlobStore
from scaispeak.speak.voices.models import BlobPurge

_log = logging.getLogger(__name__)
RETRY_S = 60.0
"""How long a key whose deletion failed waits for its next attempt."""
_BATCH = 50
ALERT_AFTER_ATTEMPTS = 10
"""Failed attempts (about ten minutes) after which a key is reported as an error."""


async def schedule(session: AsyncSession, keys: Sequence[str | None]) -> list[str]:
    """Record ``keys`` for deletion in the caller's transaction (the caller commits,
    then calls ``purge``); returns the keys recorded."""
    recorded = sorted({key for key in keys if key})
    if not recorded:
        return recorded
    # An upsert: the key may be scheduled already (a revoked voice deleted later), and
    # another process may delete that row at any moment (its purge went through).
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    rows = insert(BlobPurge).values([{"key": k, "due_at": now, "attempts": 0} for k in recorded])
    await session.execute(
        rows.on_conflict_do_update(index_elements=["key"], set_={"due_at": now, "attempts": 0})
    )
    return recorded


async def purge(session: AsyncSession, storage: BlobStore, keys: Sequence[str]) -> list[str]:
    """Delete ``keys`` now, after the commit that scheduled them; returns those left to
    the retry. Never raises (but for cancellation): the withdrawal stands, and what
    failed here, the store or the database, the rows scheduled leave to the retry.

    Its rows are written in a session of its own on ``session``'s database: a failed
    statement's rollback would expire the caller's objects (the voice it answers with)."""
    left = []
    async with AsyncSession(session.bind, expire_on_commit=False) as own:
        for key in keys:
            try:
                await _purge_one(own, storage, key)
            except Exception as exc:
                # Retried whatever the cause (a permission refused today may be granted
                # tomorrow): a voice's audio must not be forgotten. ``purge_due``
                # reports keys that keep failing as errors, for an operator.
                _log.warning("blob %s: deletion failed, retried in %g s: %r", key, RETRY_S, exc)
                left.append(key)
                with suppress(Exception):  # a failed statement leaves the session unusable
                    await own.rollback()
    return left


async def _purge_one(session: AsyncSession, storage: BlobStore, key: str) -> None:
    try:
        await storage.delete(key)
    except Exception:  # StorageUnavailable, or any failure of a backend
        await session.rollback()
        await session.execute(
            update(BlobPurge)
            .where(BlobPurge.key == key)
            .values(due_at=utcnow() + timedelta(seconds=RETRY_S), attempts=BlobPurge.attempts + 1)
        )
        await session.commit()
        raise
    await session.execute(delete(BlobPurge).where(BlobPurge.key == key))
    await session.commit()


async def purge_due(db: Database, storage: BlobStore) -> int:
    """Retry the deletions that are due; returns how many blobs were deleted."""
    async with db.sessions() as session:
        due = await session.execute(
            select(BlobPurge.key, BlobPurge.attempts)
            .where(BlobPurge.due_at <= utcnow())
            .order_by(BlobPurge.due_at)
            .limit(_BATCH)
        )
        rows = due.all()
        await session.commit()
        stuck = [key for key, attempts in rows if attempts >= ALERT_AFTER_ATTEMPTS]
        if stuck:
            _log.error(
                "%d withdrawn voice blobs still undeleted after %d attempts each, e.g. %s: "
                "check the blob store's permissions",
                len(stuck),
                ALERT_AFTER_ATTEMPTS,
                stuck[0],
            )
        keys = [key for key, _ in rows]
        return len(keys) - len(await purge(session, storage, keys))


async def purge_forever(db: Database, storage: BlobStore, every_s: float) -> None:
    while True:
        try:
            await purge_due(db, storage)
        except Exception:  # the database away: the next round tries again
            _log.exception("retrying blob deletions failed")
        await asyncio.sleep(every_s)
