"""A worker's lease on a job row: claim it, renew it, give up on it, check it is ours.

The row is the source of truth and the queue is at-least-once, so every change a worker
makes is a conditional UPDATE that only lands while the lease is still its own: a
cancel, or another worker taking over after the lease ran out, makes it a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from scaispeak.platform.db import Database, utcnow
from scaispeak.settings import JobSettings
from scaispeak.speak.jobs import outbox
from scaispeak.speak.jobs.models import LEASE_OWNER_MAX, JobState, SynthJob

_log = logging.getLogger(__name__)


def ours(job_id: str, worker_id: str) -> ColumnElement[bool]:
    """The job is still running under this worker's lease (not cancelled, not taken over)."""
    return and_(
        SynthJob.id == job_id,
        SynthJob.lease_owner == worker_id,
        SynthJob.state == JobState.running,
    )


def claimable(now: datetime) -> ColumnElement[bool]:
    """Queued, or running under a lease that ran out (its worker died)."""
    return or_(
        SynthJob.state == JobState.queued,
        (SynthJob.state == JobState.running) & (SynthJob.lease_until < now),
    )


def _tenant_running(now: datetime) -> ScalarSelect[int]:
    """How many of the candidate's tenant's jobs run now under a live lease."""
    other = aliased(SynthJob)
    return (
        select(func.count(other.id))
        .where(
            other.tenant_id == SynthJob.tenant_id,
            other.state == JobState.running,
            other.lease_until >= now,
        )
        .scalar_subquery()
    )


def _tenant_last_start() -> ScalarSelect[datetime | None]:
    """When the candidate's tenant last had a job start (None: never)."""
    other = aliased(SynthJob)
    return (
        select(func.max(other.started_at))
        .where(other.tenant_id == SynthJob.tenant_id)
        .scalar_subquery()
    )


async def next_in_line(
    session: AsyncSession, hint: str, max_attempts: int, now: datetime, limit: int = 8
) -> list[str]:
    """Claimable jobs, the one to run first first.

    A queue message only says that there is work: which job runs is decided here, so
    that one tenant's backlog cannot hold every other tenant's jobs behind it. First a
    dead worker's job (it was started, and someone waits on it); then a job of the
    tenant with the fewest jobs running now, so that a tenant's long job does not earn
    it the next free slot too; among tenants tied on that, the tenant whose last job
    started longest ago (never: first), which takes tenants in turns; then the tenant
    of the job the message was for (``hint``). Within a tenant, the oldest job first.
    """
    hinted = aliased(SynthJob)
    hinted_tenant = select(hinted.tenant_id).where(hinted.id == hint).scalar_subquery()
    rows = await session.execute(
        select(SynthJob.id)
        .where(claimable(now), SynthJob.attempts < max_attempts)
        .order_by(
            case((SynthJob.state == JobState.running, 0), else_=1),
            _tenant_running(now),
            _tenant_last_start().asc().nulls_first(),
            case((SynthJob.tenant_id == hinted_tenant, 0), else_=1),
            SynthJob.created_at,
        )
        .limit(limit)
    )
    ids = list(rows.scalars())
    await session.commit()
    return ids


async def hand_back(db: Database, job_id: str, worker_id: str) -> bool:
    """Release a job this worker is stopping under: claimable at once, its attempt not
    counted (a stop is not a crash), and re-queued by the next sweep (``last_kick_at``
    cleared). Returns whether the job was still ours."""
    async with db.sessions() as session:
        handed = await session.execute(
            update(SynthJob)
            .where(ours(job_id, worker_id))
            .values(
                lease_owner=None,
                lease_until=utcnow(),
                attempts=case((SynthJob.attempts > 0, SynthJob.attempts - 1), else_=0),
                last_kick_at=None,
            )
        )
        await session.commit()
        return bool(handed.rowcount == 1)  # type: ignore[attr-defined]


async def forget_kick(db: Database, job_id: str) -> None:
    """Note a waiting job's queue message as never sent (a stopping worker took it and
    ran nothing), so the next sweep queues it again."""
    async with db.sessions() as session:
        await session.execute(
            update(SynthJob)
            .where(SynthJob.id == job_id, SynthJob.state == JobState.queued)
            .values(last_kick_at=None)
        )
        await session.commit()


async def take(
    session: AsyncSession, job_id: str, worker_id: str, settings: JobSettings, now: datetime
) -> bool:
    """Claim the job for ``worker_id`` unless it is leased, finished or out of attempts."""
    claimed = await session.execute(
        update(SynthJob)
        .where(SynthJob.id == job_id, claimable(now), SynthJob.attempts < settings.max_attempts)
        .values(
            state=JobState.running,
            lease_owner=worker_id,
            lease_until=now + timedelta(seconds=settings.lease_s),
            attempts=SynthJob.attempts + 1,
            started_at=func.coalesce(SynthJob.started_at, now),
        )
    )
    await session.commit()
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


async def give_up(session: AsyncSession, job_id: str, max_attempts: int, now: datetime) -> bool:
    """Fail a job that would be claimed again but whose every run died before finishing.

    Without this limit a job that kills its worker (say, out of memory) would be re-run
    by the sweeper forever, holding its budget the whole time. Returns whether this
    call failed it. Leaves the transaction open: the caller commits the failure
    together with the release of the job's hold, so no reader ever sees a failed job
    still holding budget.
    """
    gave_up = await session.execute(
        update(SynthJob)
        .where(SynthJob.id == job_id, claimable(now), SynthJob.attempts >= max_attempts)
        .values(
            state=JobState.failed,
            error=f"gave up after {max_attempts} attempts: every run stopped before "
            "finishing (the worker crashed or lost its lease)",
            finished_at=now,
            lease_owner=None,
            webhook_due_at=outbox.due_on_ending(now),
        )
    )
    return bool(gave_up.rowcount == 1)  # type: ignore[attr-defined]


async def keep(db: Database, job_id: str, worker_id: str, lease_s: int) -> None:
    """Renew the lease between checkpoints too: joining hours of audio takes longer than
    a lease, and a job whose lease lapses mid-assembly would be taken over again and
    again. Stops once the job is no longer ours (the main work notices on its own).

    A renewal that fails (a database failover, a reset connection) is logged and tried
    again at the next beat: the lease lasts three beats, and a heartbeat that ended at
    the first error would let it lapse under a job still running here."""
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            still_ours = await renew(db, job_id, worker_id, lease_s)
        except Exception:
            _log.warning("job %s: lease renewal failed, trying again", job_id, exc_info=True)
            continue
        if not still_ours:
            return


async def renew(db: Database, job_id: str, worker_id: str, lease_s: int) -> bool:
    """Extend the lease; False if the job is no longer ours (cancelled, taken over)."""
    async with db.sessions() as session:
        renewed = await session.execute(
            update(SynthJob)
            .where(ours(job_id, worker_id))
            .values(lease_until=utcnow() + timedelta(seconds=lease_s))
        )
        await session.commit()
    return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Progress:
    """A checkpoint: segments, characters and seconds of speech done, and the characters
    each backend has spoken. Every value is a total, not a step, so writing the same
    checkpoint twice (a retry after a commit whose answer was lost) changes nothing."""

    segments_done: int
    characters_done: int
    audio_seconds: float
    served: dict[str, int]


async def checkpoint(
    session: AsyncSession, job_id: str, worker_id: str, settings: JobSettings, progress: Progress
) -> bool:
    """Advance progress and renew the lease, only while the job is still ours (False:
    it was cancelled or taken over)."""
    moved = await session.execute(
        update(SynthJob)
        .where(ours(job_id, worker_id))
        .values(
            segments_done=progress.segments_done,
            characters_done=progress.characters_done,
            audio_seconds_done=progress.audio_seconds,
            characters_by_backend=dict(progress.served),
            lease_until=utcnow() + timedelta(seconds=settings.lease_s),
        )
    )
    await session.commit()
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


def _owner_is_gone(owner: str, host: str) -> bool:
    """Whether ``owner`` (``<host>-<pid>-<random>``, wiring.job_worker_id) names a
    process of this host that is no longer running. A container's process is often
    pid 1 on every start: our own pid, seen before we claimed anything, is a former
    process's."""
    parts = owner.rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    suffix = owner[len(parts[0]) :]
    if parts[0] != host[: LEASE_OWNER_MAX - len(suffix)]:  # cut as job_worker_id cuts it
        return False  # another machine's: its lease lapses on its own
    pid = int(parts[1])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


async def expire_leases_of_dead_processes(db: Database) -> list[str]:
    """At start: the jobs a crashed process of this machine held are claimable at once,
    not after their lease lapses. Only a dead process's: a second ``serve`` on this
    machine or another machine sharing the database keeps running its jobs (expiring
    every running job made each start run them twice). Returns the jobs' ids."""
    host = socket.gethostname()
    async with db.sessions() as session:
        running = (
            await session.execute(
                select(SynthJob.id, SynthJob.lease_owner).where(
                    SynthJob.state == JobState.running, SynthJob.lease_owner.is_not(None)
                )
            )
        ).all()
        gone = [(job, owner) for job, owner in running if owner and _owner_is_gone(owner, host)]
        for job_id, owner in gone:
            await session.execute(
                update(SynthJob)
                .where(SynthJob.id == job_id, SynthJob.lease_owner == owner)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
        await session.commit()
    return [job_id for job_id, _ in gone]
