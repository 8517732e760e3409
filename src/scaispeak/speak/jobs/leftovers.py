"""Blobs of ended jobs that should be gone, swept up for certain.

A job's checkpoints are deleted when it ends, and its audio when its retention ends,
at best effort: a store failing just then, or a process stopping part-way (a long job
has thousands of checkpoints), left them stored for good. The path that deleted a
job's blobs marks its row (``blobs_swept_at``); retention clears the mark before it
deletes the audio; and every job sweep deletes again the blobs of a few ended jobs
left unmarked for ``GRACE_S`` (enough for the path under way to finish its own).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.storage.base import BlobStore
from scaispeak.speak.jobs.assembly import delete_all, result_key, segment_key
from scaispeak.speak.jobs.models import TERMINAL, JobState, SynthJob
from scaispeak.speak.synthesis.audio import AudioFormat

_log = logging.getLogger(__name__)
GRACE_S = 600.0
"""How long an ended job's own deletions have before the sweep repeats them."""
BATCH = 5
"""Jobs swept per sweep: each may have thousands of keys, one request each on S3."""


async def mark_swept(session: AsyncSession, job_id: str) -> None:
    """Record that the ended job's blobs are gone; commits."""
    await session.execute(
        update(SynthJob)
        .where(SynthJob.id == job_id, SynthJob.state.in_(TERMINAL))
        .values(blobs_swept_at=utcnow())
    )
    await session.commit()


async def sweep(db: Database, storage: BlobStore, grace_s: float = GRACE_S) -> list[str]:
    """Delete the leftover blobs of a few jobs that ended over ``grace_s`` ago; the ids
    of those now clean."""
    cutoff = utcnow() - timedelta(seconds=grace_s)
    due = (
        select(
            SynthJob.id,
            SynthJob.state,
            SynthJob.segments_total,
            SynthJob.result_key,
            SynthJob.params,
        )
        .where(
            SynthJob.state.in_(TERMINAL),
            SynthJob.blobs_swept_at.is_(None),
            SynthJob.finished_at < cutoff,
        )
        .limit(BATCH)
    )
    swept = []
    async with db.sessions() as session:
        rows = (await session.execute(due)).all()
        await session.commit()  # no transaction open through the deletions
        for row in rows:
            if await delete_all(storage, row.id, leftover_keys(*row)):
                await mark_swept(session, row.id)
                swept.append(row.id)
    if swept:
        _log.info("deleted the leftover blobs of %d ended jobs", len(swept))
    return swept


def leftover_keys(
    job_id: str, state: JobState, segments: int, kept: str | None, params: dict[str, Any]
) -> list[str]:
    """Every checkpoint the job may have written, and its audio unless it is kept (a
    succeeded job's, until its retention ends: ``kept`` is its key)."""
    keys = [segment_key(job_id, index) for index in range(segments)]
    if not (state is JobState.succeeded and kept is not None):
        keys.append(result_key(job_id, AudioFormat(params["format"])))
    return keys
