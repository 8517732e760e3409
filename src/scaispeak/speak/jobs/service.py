"""Creating, reading and cancelling synth jobs (no HTTP, no queue here).

Who sees a job: a member only their own jobs; a tenant admin (and a superadmin, in
their own tenant) every job of the tenant. ``visible_jobs`` is that rule, and every
read, list, download and cancel goes through it; anything else is a 404, so a
colleague's job id is indistinguishable from a missing one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any
from weakref import WeakValueDictionary

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation
from scaispeak.platform.auth.models import Role, Tenant
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.errors import Conflict, NotFound, ServiceError
from scaispeak.platform.scoping import tenant_filter
from scaispeak.platform.storage.base import BlobStore
from scaispeak.speak.backends.catalog import Route
from scaispeak.speak.jobs import billing, outbox
from scaispeak.speak.jobs.assembly import discard_job_blobs, written_segments
from scaispeak.speak.jobs.models import ACTIVE, TERMINAL, WITHOUT_TEXT, JobState, SynthJob
from scaispeak.speak.jobs.replan import plan_digest
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.synthesis.speech import SpeechSpec
from scaispeak.speak.synthesis.text import Segment

VOICE_REVOKED = "the voice was withdrawn: its consent was revoked, or it was deleted"


@dataclass(frozen=True)
class SaveTo:
    share_id: str
    path: str
    overwrite: bool = False


@dataclass(frozen=True)
class JobRequest:
    """Everything checked and decided before the job is queued."""

    spec: SpeechSpec
    voice_id: str
    routes: list[Route]
    prices: dict[str, int]
    plan: list[Segment]
    """The text's segments, as split now (jobs/replan.py)."""
    hold_micros: int
    save_to: SaveTo | None
    webhook_url: str | None
    idempotency_key: str | None
    body_for_hash: dict[str, Any]


def request_hash(body: dict[str, Any]) -> str:
    """Fingerprint of the request body, to tell a retry from a different request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyConflict(Conflict):
    code, title = "idempotency_key_reused", "Idempotency key reused with another request"


class TooManyJobs(ServiceError):
    status, code, title = 429, "too_many_jobs", "Too many jobs"
    retry_after = 30

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"Your tenant already has {limit} jobs queued or running; submit more once "
            "some have finished.",
            limit=limit,
        )


def visible_jobs(principal: Principal) -> ColumnElement[bool]:
    """The jobs ``principal`` may read, download and cancel (see the module docstring)."""
    own_tenant = tenant_filter(SynthJob, principal)
    if principal.role is Role.member:
        return and_(own_tenant, SynthJob.user_id == principal.user_id)
    return own_tenant


async def find_by_key(session: AsyncSession, principal: Principal, key: str) -> SynthJob | None:
    """The caller's own job for an Idempotency-Key: keys are per user, so two users of
    one tenant who pick the same key get two jobs and never learn of each other's."""
    stmt = select(SynthJob).where(
        tenant_filter(SynthJob, principal),
        SynthJob.user_id == principal.user_id,
        SynthJob.idempotency_key == key,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def replay_of(
    session: AsyncSession, principal: Principal, key: str | None, fingerprint: str
) -> SynthJob | None:
    """The earlier job a request with ``key`` repeats, if there is one (409 when the key
    was used for another body)."""
    if not key:
        return None
    earlier = await find_by_key(session, principal, key)
    return None if earlier is None else _same_request(earlier, fingerprint)


def _same_request(job: SynthJob, fingerprint: str) -> SynthJob:
    if job.request_hash != fingerprint:
        # The job is the caller's own (keys are per user), so naming it leaks nothing.
        raise IdempotencyConflict(
            "This Idempotency-Key was used for a different request body.", job_id=job.id
        )
    return job


async def create_job(
    session: AsyncSession, principal: Principal, request: JobRequest, *, max_active: int
) -> tuple[SynthJob, bool]:
    """Queue a job (holding its cost) or return the earlier one for the same key.

    Returns (job, created). A key reused with another body is a 409; a tenant with
    ``max_active`` jobs queued or running gets a 429 (a replay of an earlier job does
    not count as a new one), before any budget is held, so a 402 means money.
    """
    fingerprint = request_hash(request.body_for_hash)
    async with _one_submit_at_a_time(session, principal.tenant_id):
        # Looked up under the lock: a retry racing its original must find its job
        # rather than count it towards the cap.
        try:
            earlier = await replay_of(session, principal, request.idempotency_key, fingerprint)
        except IdempotencyConflict:
            await session.rollback()  # the tenant's row lock goes with it
            raise
        if earlier is not None:
            # Committed, not rolled back: a rollback expires the loaded job, and reading
            # it for the answer then needs I/O outside the session's greenlet (a 500).
            await session.commit()
            return earlier, False
        if await _active_jobs(session, principal.tenant_id) >= max_active:
            await session.rollback()
            raise TooManyJobs(max_active)
        # The hold and the job commit together: no crash or error in between can leave
        # a job's hold (which no sweep releases) without its job.
        reservation = await accounting.hold(
            session, principal, request.hold_micros, long_running=True
        )
        job = _new_job(principal, request, fingerprint, reservation.id)
        session.add(job)
        try:
            await session.commit()
        except IntegrityError:
            # Two requests with one key raced: the other insert won (and this hold went
            # with the rollback); answer with its job.
            await session.rollback()
            assert request.idempotency_key is not None
            earlier = await find_by_key(session, principal, request.idempotency_key)
            assert earlier is not None
            return _same_request(earlier, fingerprint), False
    return job, True


_submitting: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()


@asynccontextmanager
async def _one_submit_at_a_time(session: AsyncSession, tenant_id: str) -> AsyncIterator[None]:
    """Serialise a tenant's submits from counting its active jobs to the new job's
    commit, so simultaneous submits cannot all pass the cap: in this process with a
    lock, across processes by locking the tenant's row (PostgreSQL; SQLite has one
    process, and ignores FOR UPDATE).

    The row lock is FOR NO KEY UPDATE (``key_share``): FOR UPDATE also blocked the
    FOR KEY SHARE that inserting any row referring to the tenant takes, so an inline
    request's hold (spend counter locked, then its reservation inserted) and a submit
    (tenant locked, then the counter) deadlocked on PostgreSQL."""
    lock = _submitting.setdefault(tenant_id, asyncio.Lock())
    async with lock:
        tenant_row = select(Tenant.id).where(Tenant.id == tenant_id)
        await session.execute(tenant_row.with_for_update(key_share=True))
        yield


async def _active_jobs(session: AsyncSession, tenant_id: str) -> int:
    active = select(func.count()).where(SynthJob.tenant_id == tenant_id, SynthJob.state.in_(ACTIVE))
    return int(await session.scalar(active) or 0)


def _new_job(
    principal: Principal, request: JobRequest, fingerprint: str, reservation_id: str
) -> SynthJob:
    spec = request.spec
    return SynthJob(
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        voice_id=request.voice_id,
        state=JobState.queued,
        text=spec.text,
        params={
            "format": spec.format.value,
            "sample_rate": spec.sample_rate,
            "speed": spec.speed,
            "watermark": spec.watermark,
            "routes": [asdict(r) for r in request.routes],
            "prices": request.prices,
            "plan": plan_digest(request.plan),
        },
        idempotency_key=request.idempotency_key,
        request_hash=fingerprint,
        reservation_id=reservation_id,
        save_to=asdict(request.save_to) if request.save_to else None,
        webhook_url=request.webhook_url,
        characters_total=len(spec.text),
        segments_total=len(request.plan),
    )


async def get_job(session: AsyncSession, principal: Principal, job_id: str) -> SynthJob:
    stmt = select(SynthJob).where(SynthJob.id == job_id, visible_jobs(principal))
    job = (await session.execute(stmt)).scalar_one_or_none()
    if job is None:
        raise NotFound(f"No job with id {job_id!r}.")
    return job


async def list_jobs(
    session: AsyncSession,
    principal: Principal,
    *,
    state: JobState | None,
    limit: int,
    before: str | None,
) -> list[SynthJob]:
    """Newest first; ``before`` is the last id of the previous page. Without the jobs'
    texts (up to ``max_chars`` each, a hundred to a page), which the listing never shows."""
    stmt = select(SynthJob).options(WITHOUT_TEXT).where(visible_jobs(principal))
    if state is not None:
        stmt = stmt.where(SynthJob.state == state)
    if before:
        anchor = await get_job(session, principal, before)
        stmt = stmt.where(
            (SynthJob.created_at < anchor.created_at)
            | ((SynthJob.created_at == anchor.created_at) & (SynthJob.id < anchor.id))
        )
    stmt = stmt.order_by(SynthJob.created_at.desc(), SynthJob.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def cancel_job(
    session: AsyncSession, storage: BlobStore, principal: Principal, job_id: str
) -> SynthJob:
    """Stop a queued or running job; its hold is released (no audio was delivered),
    less what the relay has spoken of it so far, which its upstream billed us for.

    A running worker notices at its next checkpoint (its lease update fails), stops,
    and deletes the segment it may have stored meanwhile.
    """
    job = await get_job(session, principal, job_id)
    if job.state in TERMINAL:
        return job
    await _cancel_if_active(session, job.id, job.reservation_id, error="")
    await session.refresh(job)
    if job.state is JobState.cancelled:
        await discard_blobs_of(storage, job)
    return job


async def _cancel_if_active(
    session: AsyncSession, job_id: str, reservation_id: str, *, error: str
) -> bool:
    """Cancel only a job that is still queued or running: a job that finished in the
    meantime keeps its outcome. The cancel and the release of the job's hold land in
    one commit, so no reader sees a cancelled job still holding budget. Returns whether
    this call cancelled it.

    A cancel with an ``error`` is not the caller's doing (its voice was withdrawn): the
    job's webhook, if it has one, hears of it (``job.cancelled``, outbox.py)."""
    now = utcnow()
    ended = {"state": JobState.cancelled, "error": error, "finished_at": now, "lease_owner": None}
    if error:
        ended["webhook_due_at"] = outbox.due_on_ending(now)
    cancelled = await session.execute(
        update(SynthJob).where(SynthJob.id == job_id, SynthJob.state.in_(ACTIVE)).values(ended)
    )
    if cancelled.rowcount != 1:  # type: ignore[attr-defined]
        await session.commit()  # nothing changed: this only ends the transaction
        return False
    if not error and await _charge_relayed_work(session, job_id):
        return True  # the caller's own cancel pays for what the relay spoke of the job
    await release_hold(session, reservation_id)  # commits the cancel with the release
    return True


async def _charge_relayed_work(session: AsyncSession, job_id: str) -> bool:
    """Settle a cancelled job's hold for what the relay has spoken of it
    (billing.relayed_share), committing the cancel with the charge; False, with nothing
    done, when it owes nothing."""
    job = await session.get(SynthJob, job_id, populate_existing=True)
    owed = billing.relayed_share(job) if job is not None else None
    if job is None or owed is None:
        return False
    await accounting.settle(session, await billing.reservation(session, job), owed)
    return True


async def discard_blobs_of(storage: BlobStore, job: SynthJob) -> None:
    """Delete a cancelled job's checkpoints (assembly.discard_job_blobs). Not marked
    swept: a running job's worker may store one more after this, and marks the job
    once it has deleted that; the leftover sweep does the rest (leftovers.py)."""
    count = written_segments(job.segments_done, job.segments_total)
    await discard_job_blobs(storage, job.id, count, AudioFormat(job.params["format"]))


async def release_hold(session: AsyncSession, reservation_id: str) -> None:
    """Give a job's budget hold back, ending the session's transaction either way:
    callers go on to slow blob deletions, which must not run inside one."""
    reservation = await session.get(Reservation, reservation_id)
    if reservation is not None:  # unbudgeted holds are never stored
        await accounting.release(session, reservation)
    await session.commit()


async def cancel_jobs_of_voice(
    db: Database, voice_id: str, storage: BlobStore | None = None
) -> list[str]:
    """Consent revoked: stop every queued or running job speaking with that voice.

    Running workers notice at their next checkpoint and delete their checkpoints; with
    ``storage`` the checkpoints are deleted here too (a job whose worker died has no
    one else to do it). Each cancelled job's hold is released.
    """
    return await _cancel_active(db, SynthJob.voice_id == voice_id, VOICE_REVOKED, storage)


async def cancel_jobs_of_user(db: Database, user_id: str, storage: BlobStore) -> list[str]:
    """The user was deleted: stop their queued and running jobs, as their own cancel
    would (a relay's part already spoken is charged, the rest of the hold released)."""
    return await _cancel_active(db, SynthJob.user_id == user_id, "", storage)


async def _cancel_active(
    db: Database, which: ColumnElement[bool], error: str, storage: BlobStore | None
) -> list[str]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(SynthJob.id, SynthJob.reservation_id).where(which, SynthJob.state.in_(ACTIVE))
        )
        cancelled = []
        for job_id, reservation_id in rows.all():
            if await _cancel_if_active(session, job_id, reservation_id, error=error):
                cancelled.append(await _after_cancel(session, storage, job_id))
    return cancelled


async def cancel_for_withdrawn_voice(
    session: AsyncSession, job_id: str, reservation_id: str
) -> bool:
    """Cancel one job whose voice its running worker found withdrawn, as
    ``cancel_jobs_of_voice`` would: whichever of the two reads the withdrawal first,
    the job ends cancelled (not failed) and its webhook hears ``job.cancelled``."""
    return await _cancel_if_active(session, job_id, reservation_id, error=VOICE_REVOKED)


async def _after_cancel(session: AsyncSession, storage: BlobStore | None, job_id: str) -> str:
    if storage is not None:
        job = await session.get(SynthJob, job_id, populate_existing=True)
        assert job is not None
        await session.commit()  # no transaction open through the blob deletions
        await discard_blobs_of(storage, job)
    return job_id
