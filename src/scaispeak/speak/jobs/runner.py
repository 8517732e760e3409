"""Running one job: claim it, speak its remaining segments, assemble, deliver, charge.

Exactly-once effects on an at-least-once queue:
- a message only says there is work: the worker claims the next job in line with a
  lease (``claim``, lease.next_in_line), so a redelivered message for a job that is
  leased or finished starts another waiting job, or nothing;
- each segment's audio is written to a fixed blob key *before* the row's
  ``segments_done`` advances (overwriting is harmless), so a successor resumes from
  the last finished segment;
- the final state change and the charge land in one transaction, and the ledger
  accepts one line per reservation, so a job is charged once however often it runs
  (finishing.py);
- a job whose runs keep dying (crash, out-of-memory kill) is failed after
  ``max_attempts`` claims instead of being re-run forever;
- a successor that splits the text differently (a deploy changed the rules) starts
  the job over rather than join segments of two splits (replan.py);
- a busy or stopping inference pool never fails a job: its segments wait in the
  pool (bulk calls are never refused), and a stopping process leaves the job to a
  successor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.db import is_transient, utcnow
from scaispeak.platform.errors import ServiceError
from scaispeak.platform.storage.base import StorageUnavailable
from scaispeak.speak.backends.catalog import Route
from scaispeak.speak.errors import BackendUnavailable, UpstreamError, VoiceWithdrawn
from scaispeak.speak.jobs import billing, lease, leftovers, outbox, replan
from scaispeak.speak.jobs.assembly import (
    delete_all,
    discard_job_blobs,
    segment_key,
    wav_bytes,
    written_segments,
)
from scaispeak.speak.jobs.finishing import finish
from scaispeak.speak.jobs.models import JobState, SynthJob
from scaispeak.speak.jobs.permit import JobPermit
from scaispeak.speak.jobs.runtime import ClaimedJob, JobRuntime, LostLease, notify, reload_job
from scaispeak.speak.jobs.service import cancel_for_withdrawn_voice, release_hold
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.synthesis.inference import InferencePoolClosed, Lane, Priority
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import SegmentAudio
from scaispeak.speak.synthesis.text import Segment

_log = logging.getLogger(__name__)


async def run_job(rt: JobRuntime, message_for: str) -> None:
    """Run the next job in line; a queue message names a job, but only as a hint."""
    task = asyncio.current_task()
    assert task is not None
    rt.running.add(task)
    try:
        await _run_next(rt, message_for)
    finally:
        rt.running.discard(task)


async def _run_next(rt: JobRuntime, message_for: str) -> None:
    if rt.stopping:
        # A stop has begun: a job claimed now would be handed back at once, or, claimed
        # after the stop stopped waiting, left to look like a crash with its attempt
        # counted (embedded mode's waiting tasks took the job just handed back; helper-99).
        # Its message is taken all the same: noted as never kicked, the job is queued
        # again by the next sweep, not after requeue_after_s (helper-101).
        await lease.forget_kick(rt.db, message_for)
        return
    async with rt.db.sessions() as session:
        job = await claim(session, rt, message_for)
        if job is None:
            return
        run = ClaimedJob.of(job)
        job_id = run.job_id
        if rt.stopping:  # it began while this claim was in the database
            await _hand_back(rt, job_id)
            return
        heartbeat = asyncio.create_task(
            lease.keep(rt.db, run.job_id, rt.worker_id, rt.settings.lease_s)
        )
        try:
            served = await speak_remaining(session, rt, job)
            await finish(session, rt, job, run, served)
        except LostLease:
            _log.info("job %s: lease lost (cancelled or taken over)", job_id)
            await _discard_blobs_if_stopped(session, rt, run)
            return
        except InferencePoolClosed:
            # This process is stopping under the job. A full pool queue never gets here:
            # job segments are bulk calls, which wait in it instead.
            await _hand_back(rt, job_id)
            return
        except asyncio.CancelledError:
            if rt.stopping:  # a graceful stop; anything else is a crash, and counts
                await _hand_back(rt, job_id)
            raise
        except StorageUnavailable as exc:
            # Transient: failing the job would make the caller resubmit it. Its lease
            # lapses and a successor retries from the last checkpoint; the attempt
            # counts, so an outage longer than ``max_attempts`` leases still fails it.
            _log.warning("job %s: left for a retry, %s", job_id, exc.detail)
            return
        except ServiceError as exc:
            await fail(session, rt, run, exc.detail)
        except Exception as exc:  # a bug must fail the job, not leave it running forever
            if is_transient(exc):
                # A dropped connection, a failover or a lost deadlock: as with storage,
                # failing would discard the checkpoints; the lease lapses and a
                # successor resumes, the attempt counted (``max_attempts`` bounds it).
                _log.warning("job %s: left for a retry, database: %r", job_id, exc, exc_info=True)
                return
            if await fail(session, rt, run, f"internal error: {type(exc).__name__}"):
                _log.exception("job %s failed unexpectedly", job_id)
            else:  # e.g. a cancel deleted the checkpoints under us
                _log.info("job %s stopped (cancelled or taken over): %r", job_id, exc)
        finally:
            heartbeat.cancel()
        notify(rt, await reload_job(session, run.job_id))


async def _hand_back(rt: JobRuntime, job_id: str) -> None:
    """Give the job back at once, its attempt uncounted: failing it would throw its
    progress away, and leaving its lease to lapse would stall it for ``lease_s`` and
    count the stop as a crash (a rolling deploy of three workers could then fail it
    for good). The next worker resumes from the last checkpoint."""
    with anyio.CancelScope(shield=True):
        handed = await lease.hand_back(rt.db, job_id, rt.worker_id)
    if handed:
        _log.info("job %s: handed back for a successor, this process is stopping", job_id)


async def claim(session: AsyncSession, rt: JobRuntime, job_id: str) -> SynthJob | None:
    """Take the next job in line under a lease (lease.next_in_line: usually ``job_id``,
    the one this message was for, unless another tenant has waited longer). None when
    no job is waiting. Fails ``job_id`` first if its runs keep dying."""
    if await lease.give_up(session, job_id, rt.settings.max_attempts, utcnow()):
        await _after_giving_up(session, rt, job_id)
    else:
        await session.rollback()
    # The clock read again, for each claim: giving up deletes blobs, which can take
    # longer than a lease, and a lease dated before it would be over when it began.
    candidates = await lease.next_in_line(session, job_id, rt.settings.max_attempts, utcnow())
    for candidate in candidates:
        if await lease.take(session, candidate, rt.worker_id, rt.settings, utcnow()):
            return await reload_job(session, candidate)
    if await session.get(SynthJob, job_id) is None:
        # Job rows are never deleted: a message for one this database never held comes
        # from an API on another database. Its jobs wait there for a worker that shares it.
        _log.error(
            "job %s is not in this worker's database: is SCAISPEAK_DATABASE_URL the same "
            "as the API's? (docs/deploy.md)",
            job_id,
        )
    return None


async def _after_giving_up(session: AsyncSession, rt: JobRuntime, job_id: str) -> None:
    job = await session.get(SynthJob, job_id, populate_existing=True)  # as give_up left it
    assert job is not None  # job rows are never deleted
    _log.warning("job %s: %s", job_id, job.error)
    await release_hold(session, job.reservation_id)  # commits the failure with the release
    count = written_segments(job.segments_done, job.segments_total)
    if await discard_job_blobs(rt.storage, job_id, count, AudioFormat(job.params["format"])):
        await leftovers.mark_swept(session, job_id)
    notify(rt, job)


async def speak_remaining(session: AsyncSession, rt: JobRuntime, job: SynthJob) -> dict[str, int]:
    """Speak the segments not yet checkpointed; returns the characters each backend
    spoke, across this job's runs (what the charge prices)."""
    segments = rt.pipeline.plan(job.text)
    if not await replan.match_split(session, rt.storage, job, segments, rt.worker_id):
        raise LostLease(job.id)
    routes = [Route(**r) for r in job.params["routes"]]
    permit = JobPermit(rt.db, job.tenant_id, job.voice_id, routes)
    done_chars, done_seconds = job.characters_done, job.audio_seconds_done
    served = billing.served_so_far(job)
    for index in range(job.segments_done, len(segments)):
        routes = await _routes_now(session, rt, permit, job)
        spoken, route = await _speak_with_failover(rt.pipeline, index, segments[index], routes, job)
        rate = rt.pipeline.engines.get(route.engine).sample_rate
        await rt.storage.put_bytes(segment_key(job.id, index), wav_bytes(spoken.pcm, rate))
        done_chars += len(segments[index].text)
        done_seconds += len(spoken.pcm) / rate
        served[route.backend] = served.get(route.backend, 0) + len(segments[index].text)
        progress = lease.Progress(index + 1, done_chars, done_seconds, served)
        if not await _checkpoint(session, rt, job.id, progress):
            await _drop_if_ended(session, rt, job.id, index)
            raise LostLease(job.id)
    return served


CHECKPOINT_TRIES = 4
CHECKPOINT_BACKOFF_S = 0.5
"""A checkpoint the database dropped is written again after 0.5, 1 and 2 s: a failover
of a few seconds is ridden out, where leaving the job cost a lease (a minute) and one of
its attempts, and three such blips in a long job's life failed it for good."""


async def _checkpoint(
    session: AsyncSession, rt: JobRuntime, job_id: str, progress: lease.Progress
) -> bool:
    for attempt in range(CHECKPOINT_TRIES):
        try:
            return await lease.checkpoint(session, job_id, rt.worker_id, rt.settings, progress)
        except Exception as exc:
            if not is_transient(exc) or attempt == CHECKPOINT_TRIES - 1:
                raise
            _log.warning("job %s: checkpoint failed (%s), writing it again", job_id, exc)
            with contextlib.suppress(Exception):  # the connection may be gone with it
                await session.rollback()
            await asyncio.sleep(CHECKPOINT_BACKOFF_S * 2**attempt)
    raise AssertionError("unreachable: the last try returns or raises")


async def _drop_if_ended(session: AsyncSession, rt: JobRuntime, job_id: str, index: int) -> None:
    """Delete the checkpoint this run just stored for a job that ended meanwhile.

    A worker that stalled (a paused VM, a long GC) and woke after a successor finished
    the job re-created a segment blob after the successor had swept them: nothing
    would ever delete it (helper-63). A job still running under a successor keeps it:
    the successor may have stored the same segment, under the same key."""
    state = (
        await session.execute(select(SynthJob.state).where(SynthJob.id == job_id))
    ).scalar_one()
    await session.commit()
    if state in (JobState.succeeded, JobState.failed, JobState.cancelled):
        await delete_all(rt.storage, job_id, [segment_key(job_id, index)])


async def _routes_now(
    session: AsyncSession, rt: JobRuntime, permit: JobPermit, job: SynthJob
) -> list[Route]:
    """The job's backends now, its voice and policy read again (permit.py). A voice
    withdrawn meanwhile cancels the job here, not only through the withdrawal's own
    cancel (service.cancel_jobs_of_voice): this read may come first."""
    try:
        return await permit.routes_now()
    except VoiceWithdrawn:
        if await cancel_for_withdrawn_voice(session, job.id, job.reservation_id):
            notify(rt, await reload_job(session, job.id))
        raise LostLease(job.id) from None


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
                lane=Lane(job.tenant_id, job.id),
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


async def fail(session: AsyncSession, rt: JobRuntime, run: ClaimedJob, reason: str) -> bool:
    """Mark the job failed and release its hold (in one commit), if it is still ours.

    Returns whether it was (False: cancelled or taken over meanwhile). The rollback
    drops whatever the failed step left half-done; it also expires every loaded row,
    which is why only ``run``'s plain values are used from here on.
    """
    await session.rollback()
    now = utcnow()
    failed = await session.execute(
        update(SynthJob)
        .where(lease.ours(run.job_id, rt.worker_id))
        .values(
            state=JobState.failed,
            error=reason,
            finished_at=now,
            lease_owner=None,
            webhook_due_at=outbox.due_on_ending(now),
        )
    )
    ours = bool(failed.rowcount == 1)  # type: ignore[attr-defined]
    if ours:  # one commit: no reader sees the job failed with its budget still held
        await release_hold(session, run.reservation_id)
    else:
        await session.rollback()
    await _discard_blobs_if_stopped(session, rt, run)
    return ours


async def _discard_blobs_if_stopped(session: AsyncSession, rt: JobRuntime, run: ClaimedJob) -> None:
    """Delete the checkpoints of a job that failed or was cancelled: nothing will
    resume from them. A job taken over by another worker keeps them for its successor.
    Runs in the worker too because a cancel that lands while a segment is being
    spoken cannot delete the blob that segment stores afterwards."""
    row = (
        await session.execute(
            select(SynthJob.state, SynthJob.segments_done, SynthJob.segments_total).where(
                SynthJob.id == run.job_id
            )
        )
    ).one()
    await session.commit()
    if row.state in (JobState.failed, JobState.cancelled):
        # The row's total, not the claim's: a run that re-split the job changed it.
        count = written_segments(row.segments_done, row.segments_total)
        if await discard_job_blobs(rt.storage, run.job_id, count, run.format):
            await leftovers.mark_swept(session, run.job_id)
