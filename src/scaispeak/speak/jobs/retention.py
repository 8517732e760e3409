"""Deleting succeeded jobs' audio once it has been kept ``result_ttl_s``, and every
ended job's text and webhook path with it.

Every job's audio would otherwise stay in storage forever. The job's row stays (its
record, its charge, a ``save_to`` file's reference); the audio goes, and so do the
words it said (up to 500,000 characters a job, needed only while it runs) and the path
of its webhook URL (where receivers keep a secret), of succeeded, failed and cancelled
jobs alike.

The row is updated first, conditionally, then the blob deleted: a crash in between
never leaves a job that points at missing audio, and the update clears the row's
``blobs_swept_at``, so a deletion that fails or never runs is done again by the
leftover sweep (leftovers.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.storage.base import BlobStore
from scaispeak.speak.jobs import leftovers
from scaispeak.speak.jobs.assembly import delete_all
from scaispeak.speak.jobs.models import TERMINAL, JobState, SynthJob
from scaispeak.speak.jobs.webhooks import origin

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
            if key and await delete_audio(session, storage, job_id, key):
                expired.append(job_id)
    if expired:
        _log.info("deleted the audio of %d jobs past their retention", len(expired))
    return expired


async def delete_audio(session: AsyncSession, storage: BlobStore, job_id: str, key: str) -> bool:
    """Take the audio ``key`` off job ``job_id``, then delete it from storage; False
    when the job no longer pointed at it."""
    cleared = await session.execute(
        update(SynthJob)
        .where(SynthJob.id == job_id, SynthJob.result_key == key)
        .values(result_key=None, blobs_swept_at=None)
    )
    await session.commit()
    if cleared.rowcount != 1:  # type: ignore[attr-defined]
        return False
    if await delete_all(storage, job_id, [key]):
        await leftovers.mark_swept(session, job_id)
    return True


FORGET_BATCH = 1000


async def forget_texts(db: Database, ttl_s: int) -> int:
    """Empty the text, and cut the webhook URL to its origin, of jobs that ended more
    than ``ttl_s`` ago (a webhook still to be delivered keeps its URL); how many."""
    if ttl_s <= 0:
        return 0
    cutoff = utcnow() - timedelta(seconds=ttl_s)
    due = (
        select(SynthJob.id, SynthJob.webhook_url, SynthJob.webhook_due_at)
        .where(SynthJob.state.in_(TERMINAL), SynthJob.finished_at < cutoff, SynthJob.text != "")
        .limit(FORGET_BATCH)
    )
    async with db.sessions() as session:
        rows = (await session.execute(due)).all()
        for job_id, url, due_at in rows:
            await _forget(session, job_id, url, due_at)
        await session.commit()
    return len(rows)


async def forget_jobs_of_user(db: Database, storage: BlobStore, user_id: str) -> int:
    """A deleted user's jobs, ended (``service.cancel_jobs_of_user`` first): their audio
    deleted and their texts and webhook paths forgotten now; how many jobs."""
    jobs = select(SynthJob.id, SynthJob.result_key, SynthJob.webhook_url, SynthJob.webhook_due_at)
    async with db.sessions() as session:
        ended = SynthJob.state.in_(TERMINAL)  # one submitted meanwhile is not run empty
        rows = (await session.execute(jobs.where(SynthJob.user_id == user_id, ended))).all()
        for job_id, key, url, due_at in rows:
            if key:
                await delete_audio(session, storage, job_id, key)
            await _forget(session, job_id, url, due_at)
            await session.commit()
    return len(rows)


async def forget_job(session: AsyncSession, job: SynthJob) -> None:
    """Empty an ended job's text and cut its webhook URL now (the caller asked)."""
    await _forget(session, job.id, job.webhook_url, job.webhook_due_at)
    await session.commit()


async def _forget(
    session: AsyncSession, job_id: str, url: str | None, due_at: datetime | None
) -> None:
    # An event still to be delivered keeps its URL; the outbox cuts it once settled.
    kept_url = url if url is None or due_at is not None else origin(url)
    await session.execute(
        update(SynthJob).where(SynthJob.id == job_id).values(text="", webhook_url=kept_url)
    )
