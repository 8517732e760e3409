"""Running one job: claim it, speak its remaining segments, assemble, deliver, charge.

Exactly-once effects on an at-least-once queue:
- a worker claims the row with a lease (``claim``); a redelivered message for a job
  that is leased, or finished, does nothing;
- each segment's audio is written to a fixed blob key *before* the row's
  ``segments_done`` advances (overwriting is harmless), so a successor resumes from
  the last finished segment;
- the final state change and the charge land in one transaction, and the ledger
  accepts one line per reservation, so a job is charged once however often it runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation, ReservationState
from scaispeak.platform.auth.models import User
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.drive import files as drive
from scaispeak.platform.errors import ServiceError
from scaispeak.platform.storage.base import BlobStore
from scaispeak.settings import JobSettings
from scaispeak.speak.backends.catalog import Route
from scaispeak.speak.errors import BackendUnavailable, UpstreamError
from scaispeak.speak.jobs.assembly import assemble, segment_key, wav_bytes
from scaispeak.speak.jobs.models import JobState, SynthJob
from scaispeak.speak.jobs.schemas import job_out
from scaispeak.speak.jobs.webhooks import deliver, tenant_webhook_secret
from scaispeak.speak.provenance import service as provenance
from scaispeak.speak.provenance.capture import StreamCapture
from scaispeak.speak.synthesis.audio import AudioFormat, content_type
from scaispeak.speak.synthesis.inference import Priority
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import SegmentAudio
from scaispeak.speak.synthesis.text import Segment

_log = logging.getLogger(__name__)


class LostLease(Exception):
    """The job was cancelled or taken over: stop without touching it further."""


@dataclass
class JobRuntime:
    """What a worker needs to run jobs; one per process."""

    db: Database
    storage: BlobStore
    pipeline: SynthesisPipeline
    settings: JobSettings
    worker_id: str
    signing_key: str
    background: set[asyncio.Task[bool]] = field(default_factory=set)


async def run_job(rt: JobRuntime, job_id: str) -> None:
    async with rt.db.sessions() as session:
        job = await claim(session, rt, job_id)
        if job is None:
            return
        heartbeat = asyncio.create_task(_keep_lease(rt, job))
        try:
            await speak_remaining(session, rt, job)
            await finish(session, rt, job)
        except LostLease:
            _log.info("job %s: lease lost (cancelled or taken over)", job_id)
            return
        except ServiceError as exc:
            await fail(session, rt, job, exc.detail)
        except Exception as exc:  # a bug must fail the job, not leave it running forever
            _log.exception("job %s failed unexpectedly", job_id)
            await fail(session, rt, job, f"internal error: {type(exc).__name__}")
        finally:
            heartbeat.cancel()
        await session.refresh(job)
        _notify(rt, job)


def _notify(rt: JobRuntime, job: SynthJob) -> None:
    """Send the webhook in the background: a slow receiver must not hold the worker."""
    if not job.webhook_url or job.state not in (JobState.succeeded, JobState.failed):
        return
    event = {"event": f"job.{job.state.value}", "job": job_out(job).model_dump(mode="json")}
    secret = tenant_webhook_secret(rt.signing_key, job.tenant_id)
    task = asyncio.create_task(deliver(job.webhook_url, event, secret, rt.settings))
    rt.background.add(task)
    task.add_done_callback(rt.background.discard)


async def _keep_lease(rt: JobRuntime, job: SynthJob) -> None:
    """Renew the lease between checkpoints too: joining hours of audio takes longer than
    a lease, and a job whose lease lapses mid-assembly would be taken over again and
    again. Stops once the job is no longer ours (the main work notices on its own)."""
    while True:
        await asyncio.sleep(rt.settings.lease_s / 3)
        async with rt.db.sessions() as session:
            renewed = await session.execute(
                update(SynthJob)
                .where(_ours(job, rt))
                .values(lease_until=utcnow() + timedelta(seconds=rt.settings.lease_s))
            )
            await session.commit()
        if renewed.rowcount != 1:  # type: ignore[attr-defined]
            return


async def claim(session: AsyncSession, rt: JobRuntime, job_id: str) -> SynthJob | None:
    now = utcnow()
    claimed = await session.execute(
        update(SynthJob)
        .where(
            SynthJob.id == job_id,
            or_(
                SynthJob.state == JobState.queued,
                (SynthJob.state == JobState.running) & (SynthJob.lease_until < now),
            ),
        )
        .values(
            state=JobState.running,
            lease_owner=rt.worker_id,
            lease_until=now + timedelta(seconds=rt.settings.lease_s),
            attempts=SynthJob.attempts + 1,
            started_at=func.coalesce(SynthJob.started_at, now),
        )
    )
    await session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return await session.get(SynthJob, job_id, populate_existing=True)


async def speak_remaining(session: AsyncSession, rt: JobRuntime, job: SynthJob) -> None:
    segments = rt.pipeline.plan(job.text)
    routes = [Route(**r) for r in job.params["routes"]]
    done_chars = job.characters_done
    for index in range(job.segments_done, len(segments)):
        spoken, route = await _speak_with_failover(rt.pipeline, index, segments[index], routes, job)
        rate = rt.pipeline.engines.get(route.engine).sample_rate
        await rt.storage.put_bytes(segment_key(job.id, index), wav_bytes(spoken.pcm, rate))
        done_chars += len(segments[index].text)
        await _checkpoint(session, rt, job, index + 1, done_chars, len(spoken.pcm) / rate)


async def _speak_with_failover(
    pipeline: SynthesisPipeline, index: int, segment: Segment, routes: list[Route], job: SynthJob
) -> tuple[SegmentAudio, Route]:
    for attempt, route in enumerate(routes):
        try:
            spoken = await pipeline.speak_segment(
                index,
                segment,
                route.engine,
                route.engine_voice,
                float(job.params["speed"]),
                priority=Priority.BULK,
                lane=job.id,
                # Jobs queued before provenance existed carry no choice: mark them.
                watermark=pipeline.must_embed(
                    route.engine, bool(job.params.get("watermark", True))
                ),
            )
            return spoken, route
        except (BackendUnavailable, UpstreamError):
            if attempt == len(routes) - 1:
                raise
    raise BackendUnavailable("No backend could serve the job.")


async def _checkpoint(
    session: AsyncSession,
    rt: JobRuntime,
    job: SynthJob,
    segments_done: int,
    characters_done: int,
    seconds: float,
) -> None:
    """Advance progress and renew the lease, only while the job is still ours."""
    moved = await session.execute(
        update(SynthJob)
        .where(_ours(job, rt))
        .values(
            segments_done=segments_done,
            characters_done=characters_done,
            audio_seconds_done=SynthJob.audio_seconds_done + seconds,
            lease_until=utcnow() + timedelta(seconds=rt.settings.lease_s),
        )
    )
    await session.commit()
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise LostLease(job.id)


def _ours(job: SynthJob, rt: JobRuntime) -> ColumnElement[bool]:
    """The job is still running under our lease (not cancelled, not taken over)."""
    return and_(
        SynthJob.id == job.id,
        SynthJob.lease_owner == rt.worker_id,
        SynthJob.state == JobState.running,
    )


async def finish(session: AsyncSession, rt: JobRuntime, job: SynthJob) -> None:
    fmt = AudioFormat(job.params["format"])
    rate = int(job.params["sample_rate"])
    segments = rt.pipeline.plan(job.text)
    pauses = [rt.pipeline.pause_after(s) for s in segments]
    result_key = f"jobs/{job.id}/audio.{fmt.value}"
    capture = StreamCapture(
        rate, rt.pipeline.fingerprint_seconds, watermarked=bool(job.params.get("watermark", True))
    )
    size, seconds = await assemble(rt.storage, job.id, pauses, fmt, rate, result_key, capture)
    saved = await _save_to_drive(session, rt, job, result_key, fmt) if job.save_to else None
    origin = provenance.ClipOrigin(job.tenant_id, job.user_id, job.id, "job", job.voice_id)
    prints = await asyncio.to_thread(capture.fingerprint)
    provenance.record_clip(  # lands with the success and the charge, or not at all
        session, origin, watermarked=capture.watermarked, duration_s=seconds, fingerprint=prints
    )
    await _succeed_and_charge(session, rt, job, result_key, size, seconds, saved)
    for index in range(len(segments)):
        await rt.storage.delete(segment_key(job.id, index))


async def _save_to_drive(
    session: AsyncSession, rt: JobRuntime, job: SynthJob, result_key: str, fmt: AudioFormat
) -> dict[str, object]:
    """Write into the caller's share, re-checking the permission at delivery time."""
    assert job.save_to is not None
    owner = await session.get(User, job.user_id)
    if owner is None:
        raise LostLease(job.id)
    principal = Principal(owner.id, owner.tenant_id, owner.role)
    target = job.save_to
    ref = await drive.write_file(
        session,
        rt.storage,
        principal,
        target["share_id"],
        target["path"],
        rt.storage.stream(result_key),
        content_type(fmt),
        overwrite=bool(target.get("overwrite", False)),
    )
    return asdict(ref)


async def _succeed_and_charge(
    session: AsyncSession,
    rt: JobRuntime,
    job: SynthJob,
    result_key: str,
    size: int,
    seconds: float,
    saved: dict[str, object] | None,
) -> None:
    already_charged = await accounting.find_settlement(session, job.reservation_id)
    done = await session.execute(
        update(SynthJob)
        .where(_ours(job, rt))
        .values(
            state=JobState.succeeded,
            characters_done=SynthJob.characters_total,
            result_key=result_key,
            result_bytes=size,
            result_seconds=seconds,
            saved_file=saved,
            finished_at=utcnow(),
            lease_owner=None,
        )
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        raise LostLease(job.id)
    if already_charged is not None:  # an earlier run charged, then died before this
        await session.commit()
        return
    # settle() commits: the state change and the ledger line land together.
    await accounting.settle(session, await _reservation(session, job), _charge(job, seconds))


def _charge(job: SynthJob, seconds: float) -> accounting.Charge:
    backend = job.params["routes"][0]["backend"]
    price = int(job.params["prices"].get(backend, 0))
    return accounting.Charge(
        job.voice_id,
        backend,
        "job",
        job.characters_total,
        seconds,
        price * job.characters_total,
        job.id,
    )


async def _reservation(session: AsyncSession, job: SynthJob) -> Reservation:
    stored = await session.get(Reservation, job.reservation_id)
    if stored is not None:
        return stored
    # Unbudgeted holds are never stored: rebuild the same (virtual) one by id.
    return Reservation(
        id=job.reservation_id,
        tenant_id=job.tenant_id,
        user_id=job.user_id,
        period_key=accounting.UNBUDGETED,
        amount_micros=0,
        state=ReservationState.held,
    )


async def fail(session: AsyncSession, rt: JobRuntime, job: SynthJob, reason: str) -> None:
    await session.rollback()
    failed = await session.execute(
        update(SynthJob)
        .where(_ours(job, rt))
        .values(state=JobState.failed, error=reason, finished_at=utcnow(), lease_owner=None)
    )
    await session.commit()
    if failed.rowcount == 1:  # type: ignore[attr-defined]
        reservation = await session.get(Reservation, job.reservation_id)
        if reservation is not None:
            await accounting.release(session, reservation)
