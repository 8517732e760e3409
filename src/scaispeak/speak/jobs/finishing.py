"""Finishing a job whose segments are all spoken: assemble the result, fingerprint
it, save it to the caller's share if asked, and mark the success with its charge in
one transaction (the ledger takes one line per reservation, so a job whose run died
after charging is never charged twice)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.db import utcnow
from scaispeak.speak.jobs import billing, lease, leftovers, outbox
from scaispeak.speak.jobs.assembly import assemble, discard_checkpoints, result_key
from scaispeak.speak.jobs.delivery import saving_to_share
from scaispeak.speak.jobs.models import JobState, SynthJob
from scaispeak.speak.jobs.runtime import ClaimedJob, JobRuntime, LostLease
from scaispeak.speak.provenance import service as provenance
from scaispeak.speak.provenance.capture import StreamCapture
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.voices.library import record_use_of

_log = logging.getLogger(__name__)


async def finish(
    session: AsyncSession, rt: JobRuntime, job: SynthJob, run: ClaimedJob, served: dict[str, int]
) -> None:
    rate = int(job.params["sample_rate"])
    segments = rt.pipeline.plan(job.text)
    pauses = [rt.pipeline.pause_after(s) for s in segments]
    key = result_key(job.id, run.format)
    capture = StreamCapture(
        rate, rt.pipeline.fingerprint_seconds, watermarked=bool(job.params.get("watermark", True))
    )
    size, seconds = await assemble(
        rt.storage, job.id, pauses, run.format, rate, key, rt.scratch_dir, capture
    )
    # Fingerprint before saving: the staged save holds the file's row locked until the
    # success commits, and this takes a while.
    prints = await asyncio.to_thread(capture.fingerprint)
    origin = provenance.ClipOrigin(job.tenant_id, job.user_id, job.id, "job", job.voice_id)
    charge = billing.charge(job, served, seconds)
    async with _saving(session, rt, job, key, run.format) as saved:
        # These land with the success and the charge, or not at all.
        provenance.record_clip(
            session, origin, watermarked=capture.watermarked, duration_s=seconds, fingerprint=prints
        )
        await _count_use(session, job)
        await _succeed_and_charge(session, rt, job, key, size, seconds, saved, charge)
    if await discard_checkpoints(rt.storage, job.id, len(segments)):
        await leftovers.mark_swept(session, run.job_id)


async def _count_use(session: AsyncSession, job: SynthJob) -> None:
    """The voice's use, with the success but never in its way: popularity is not worth
    failing hours of paid work for (its submitter deleted meanwhile breaks the row)."""
    try:
        async with session.begin_nested():
            await record_use_of(session, job.tenant_id, job.user_id, job.voice_id)
    except SQLAlchemyError:
        _log.warning("job %s: its voice use was not counted", job.id, exc_info=True)


def _saving(
    session: AsyncSession, rt: JobRuntime, job: SynthJob, key: str, fmt: AudioFormat
) -> AbstractAsyncContextManager[dict[str, Any] | None]:
    """The file ``save_to`` asks for, landing with the success; None without one."""
    if not job.save_to:
        return nullcontext(None)
    return saving_to_share(session, rt.storage, job, key, fmt, rt.drive_quota_bytes)


async def _succeed_and_charge(
    session: AsyncSession,
    rt: JobRuntime,
    job: SynthJob,
    result_key: str,
    size: int,
    seconds: float,
    saved: dict[str, object] | None,
    charge: accounting.Charge,
) -> None:
    job_id = job.id  # the rollback below expires the row
    now = utcnow()
    already_charged = await accounting.find_settlement(session, job.reservation_id)
    done = await session.execute(
        update(SynthJob)
        .where(lease.ours(job_id, rt.worker_id))
        .values(
            state=JobState.succeeded,
            characters_done=SynthJob.characters_total,
            result_key=result_key,
            result_bytes=size,
            result_seconds=seconds,
            saved_file=saved,
            finished_at=now,
            lease_owner=None,
            webhook_due_at=outbox.due_on_ending(now),
        )
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise LostLease(job_id)
    if already_charged is not None:  # an earlier run charged, then died before this
        await session.commit()
        return
    # settle() commits: the state change and the ledger line land together.
    await accounting.settle(session, await billing.reservation(session, job), charge)
