"""What running a job shares: the worker's runtime, the claimed job's plain values,
the signal that the job is no longer ours, and the two steps every outcome takes
(read the row again, send its event)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.db import Database
from scaispeak.platform.storage.base import BlobStore
from scaispeak.settings import JobSettings
from scaispeak.speak.jobs import outbox
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline


class LostLease(Exception):
    """The job was cancelled or taken over: stop without touching it further."""


@dataclass(frozen=True)
class ClaimedJob:
    """A claimed job's identity as plain values, read once right after the claim.

    A rollback expires the ORM row, and reading an expired attribute lazy-loads it,
    which fails outside SQLAlchemy's greenlet (``MissingGreenlet``). Everything that
    may run after a rollback (failing the job, releasing its hold, the heartbeat)
    uses these values, never the row.
    """

    job_id: str
    reservation_id: str
    format: AudioFormat

    @classmethod
    def of(cls, job: SynthJob) -> ClaimedJob:
        return cls(job.id, job.reservation_id, AudioFormat(job.params["format"]))


@dataclass
class JobRuntime:
    """What a worker needs to run jobs; one per process."""

    db: Database
    storage: BlobStore
    pipeline: SynthesisPipeline
    settings: JobSettings
    worker_id: str
    signing_key: str
    scratch_dir: Path
    drive_quota_bytes: int | None
    """A tenant's drive quota, which audio saved to a share counts against (None: none;
    required, so a runtime built without it does not lift the quota unnoticed)."""
    background: set[asyncio.Task[bool]] = field(default_factory=set)
    running: set[asyncio.Task[Any]] = field(default_factory=set)
    """The tasks running ``run_job`` now: a stop waits for them to hand their jobs back."""
    stopping: bool = False
    """Set by a graceful stop (worker.stop_jobs): a job cancelled under it is handed
    back, not left to look like a crash."""


async def reload_job(session: AsyncSession, job_id: str) -> SynthJob:
    """The row as it is now, read in a transaction that ends here.

    What follows a reload can take long (the first segment waits in the bulk inference
    queue, blobs are deleted): an open transaction would hold a pooled connection, a
    snapshot and a lock on synth_jobs all that time (a migration's ALTER waits on it).
    """
    job = await session.get(SynthJob, job_id, populate_existing=True)
    assert job is not None  # job rows are never deleted
    await session.commit()  # sessions keep their rows loaded on commit
    return job


def notify(rt: JobRuntime, job: SynthJob) -> None:
    """Send the job's event now, in the background: a slow receiver must not hold the
    worker. The event is already stored with the outcome (outbox.py), so a process that
    stops before delivering it leaves it to another's sweep."""
    if job.webhook_url and job.state in outbox.EVENTS:
        outbox.deliver_in_background(rt, job.id)
