"""Blobs of ended jobs that should be gone, swept up for certain.

A job's checkpoints are deleted when it ends, and its audio when its retention ends,
at best effort: a store failing just then, or a process stopping part-way (a long job
has thousands of checkpoints), left them stored for good. The worker that deleted a
job's blobs marks its row (``blobs_swept_at``); retention clears the mark before it
deletes the audio; and every job sweep deletes again the blobs of a few ended jobs
left unmarked for ``GRACE_S`` (enough for the path under way to finish its own).

A cancel by API does not mark: the job's worker may store one more checkpoint after
it, and marks once it has deleted that (or the sweep does, if the worker died).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Update, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.storage.base import BlobStore
from scaispeak.speak.jobs.assembly import (
    delete_all,
    result_key,
    segment_key,
    written_segments,
)
from scaispeak.speak.jobs.models import TERMINAL, JobState, SynthJob
from scaispeak.speak.synthesis.audio import AudioFormat

_log = logging.getLogger(__name__)
GRACE_S = 600.0
"""How long an ended job's own deletions have before the sweep repeats them."""
BATCH = 5
"""Jobs swept per sweep: each may have thousands of keys, one request each on S3."""


async def mark_swept(session: AsyncSession, job_id: str) -> None:
    """Record that the ended job's blobs are gone; commits."""
    await _mark(session, update(SynthJob).where(SynthJob.id == job_id))


async def sweep(db: Database, storage: BlobStore, grace_s: float = GRACE_S) -> list[str]:
    """Delete the leftover blobs of a few jobs that ended over ``grace_s`` ago, oldest
    first, stopping at the first job the store fails; the ids of those now clean."""
    cutoff = utcnow() - timedelta(seconds=grace_s)
    due = (
        select(SynthJob.id, SynthJob.state, SynthJob.segments_total, SynthJob.segments_done)
        .add_columns(SynthJob.result_key, SynthJob.params)
        .where(
            SynthJob.state.in_(TERMINAL),
            SynthJob.blobs_swept_at.is_(None),
            SynthJob.finished_at < cutoff,
        )
        .order_by(SynthJob.finished_at)
        .limit(BATCH)
    )
    swept = []
    async with db.sessions() as session:
        rows = (await session.execute(due)).all()
        await session.commit()  # no transaction open through the deletions
        for row in rows:
            keys = leftover_keys(row.id, row.state, row.segments_total, row.segments_done)
            kept = row.result_key
            if not (row.state is JobState.succeeded and kept is not None):
                keys.append(result_key(row.id, AudioFormat(row.params["format"])))
            if not await delete_all(storage, row.id, keys, stop_at_failure=True):
                break  # the store is failing: the next sweep tries again
            # Unless retention cleared the kept audio meanwhile: its deletion is to come.
            unchanged = (
                SynthJob.result_key.is_(None) if kept is None else SynthJob.result_key == kept
            )
            await _mark(session, update(SynthJob).where(SynthJob.id == row.id, unchanged))
            swept.append(row.id)
    if swept:
        _log.info("deleted the leftover blobs of %d ended jobs", len(swept))
    return swept


def leftover_keys(job_id: str, state: JobState, segments: int, done: int) -> list[str]:
    """The checkpoints the job may have written: all of a succeeded job's, and one
    past the last finished of a stopped one's (assembly.written_segments)."""
    written = segments if state is JobState.succeeded else written_segments(done, segments)
    return [segment_key(job_id, index) for index in range(written)]


async def _mark(session: AsyncSession, rows: Update) -> None:
    await session.execute(rows.where(SynthJob.state.in_(TERMINAL)).values(blobs_swept_at=utcnow()))
    await session.commit()
