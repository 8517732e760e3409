"""Deleting succeeded jobs' audio once it has been kept ``result_ttl_s``.

Every job's audio would otherwise stay in storage forever. The job's row stays (its
record, its charge, a ``save_to`` file's reference); only the audio goes. The row is
updated first, conditionally, then the blob deleted: a crash in between never leaves
a job that points at missing audio, and the update clears the row's
``blobs_swept_at``, so a deletion that fails or never runs is done again by the
leftover sweep (leftovers.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.storage.base import BlobStore
from scaispeak.speak.jobs import leftovers
from scaispeak.speak.jobs.assembly import delete_all
from scaispeak.speak.jobs.models import JobState, SynthJob

_log = logging.getLogger(__name__)
BATCH = 100
"""Jobs expired per sweep: a backlog is worked off over a few sweeps, in small commits."""


async def expire_results(db: Database, storage: BlobStore, ttl_s: int) -> list[str]:
    """Delete the audio of jobs that finished more than ``ttl_s`` ago; their ids."""
    if ttl_s <= 0:
        return []
    cutoff = utcnow() - timedelta(seconds=ttl_s)
    due = (
        select(SynthJob.id, SynthJob.result_key)
        .where(
            SynthJob.state == JobState.succeeded,
            SynthJob.result_key.is_not(None),
            SynthJob.finished_at < cutoff,
        )
        .limit(BATCH)
    )
    expired = []
    async with db.sessions() as session:
        for job_id, key in (await session.execute(due)).all():
            cleared = await session.execute(
                update(SynthJob)
                .where(SynthJob.id == job_id, SynthJob.result_key == key)
                .values(result_key=None, blobs_swept_at=None)
            )
            await session.commit()
            if cleared.rowcount == 1 and key:  # type: ignore[attr-defined]
                expired.append(job_id)
                if await delete_all(storage, job_id, [key]):
                    await leftovers.mark_swept(session, job_id)
    if expired:
        _log.info("deleted the audio of %d jobs past their retention", len(expired))
    return expired
