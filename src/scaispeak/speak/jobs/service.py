"""Creating, reading and cancelling synth jobs (no HTTP, no queue here)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation
from scaispeak.platform.auth.models import Role
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.errors import Conflict
from scaispeak.platform.scoping import get_scoped, tenant_filter
from scaispeak.speak.backends.catalog import Route
from scaispeak.speak.jobs.models import TERMINAL, JobState, SynthJob
from scaispeak.speak.synthesis.speech import SpeechSpec


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
    segments_total: int
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


async def find_by_key(session: AsyncSession, principal: Principal, key: str) -> SynthJob | None:
    stmt = select(SynthJob).where(
        tenant_filter(SynthJob, principal), SynthJob.idempotency_key == key
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _same_request(job: SynthJob, fingerprint: str) -> SynthJob:
    if job.request_hash != fingerprint:
        raise IdempotencyConflict(
            "This Idempotency-Key was used for a different request body.", job_id=job.id
        )
    return job


async def create_job(
    session: AsyncSession, principal: Principal, request: JobRequest
) -> tuple[SynthJob, bool]:
    """Queue a job (holding its cost) or return the earlier one for the same key.

    Returns (job, created). A key reused with another body is a 409.
    """
    fingerprint = request_hash(request.body_for_hash)
    if request.idempotency_key:
        earlier = await find_by_key(session, principal, request.idempotency_key)
        if earlier is not None:
            return _same_request(earlier, fingerprint), False
    reservation = await accounting.reserve(
        session, principal, request.hold_micros, long_running=True
    )
    job = _new_job(principal, request, fingerprint, reservation.id)
    session.add(job)
    try:
        await session.commit()
    except IntegrityError:
        # Two requests with one key raced: the other insert won; answer with its job.
        await session.rollback()
        await accounting.release(session, reservation)
        assert request.idempotency_key is not None
        earlier = await find_by_key(session, principal, request.idempotency_key)
        assert earlier is not None
        return _same_request(earlier, fingerprint), False
    return job, True


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
        },
        idempotency_key=request.idempotency_key,
        request_hash=fingerprint,
        reservation_id=reservation_id,
        save_to=asdict(request.save_to) if request.save_to else None,
        webhook_url=request.webhook_url,
        characters_total=len(spec.text),
        segments_total=request.segments_total,
    )


async def get_job(session: AsyncSession, principal: Principal, job_id: str) -> SynthJob:
    return await get_scoped(session, SynthJob, job_id, principal)


async def list_jobs(
    session: AsyncSession,
    principal: Principal,
    *,
    state: JobState | None,
    limit: int,
    before: str | None,
) -> list[SynthJob]:
    """Newest first; ``before`` is the last id of the previous page."""
    stmt = select(SynthJob).where(tenant_filter(SynthJob, principal))
    if principal.role is Role.member:
        stmt = stmt.where(SynthJob.user_id == principal.user_id)
    if state is not None:
        stmt = stmt.where(SynthJob.state == state)
    if before:
        anchor = await get_scoped(session, SynthJob, before, principal)
        stmt = stmt.where(
            (SynthJob.created_at < anchor.created_at)
            | ((SynthJob.created_at == anchor.created_at) & (SynthJob.id < anchor.id))
        )
    stmt = stmt.order_by(SynthJob.created_at.desc(), SynthJob.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def cancel_job(session: AsyncSession, principal: Principal, job_id: str) -> SynthJob:
    """Stop a queued or running job; its hold is released (no audio was delivered).

    A running worker notices at its next checkpoint (its lease update fails) and stops.
    """
    job = await get_job(session, principal, job_id)
    if job.state in TERMINAL:
        return job
    await session.execute(
        update(SynthJob)
        .where(SynthJob.id == job.id, SynthJob.state.in_([JobState.queued, JobState.running]))
        .values(state=JobState.cancelled, finished_at=utcnow(), lease_owner=None)
    )
    await session.commit()
    await release_hold(session, job.reservation_id)
    await session.refresh(job)
    return job


async def release_hold(session: AsyncSession, reservation_id: str) -> None:
    reservation = await session.get(Reservation, reservation_id)
    if reservation is not None:  # unbudgeted holds are never stored
        await accounting.release(session, reservation)


async def cancel_jobs_of_voice(db: Database, voice_id: str) -> list[str]:
    """Consent revoked: stop every queued or running job speaking with that voice.

    Running workers notice at their next checkpoint; each job's hold is released.
    """
    async with db.sessions() as session:
        rows = await session.execute(
            select(SynthJob).where(
                SynthJob.voice_id == voice_id,
                SynthJob.state.in_([JobState.queued, JobState.running]),
            )
        )
        jobs = list(rows.scalars())
        for job in jobs:
            job.state = JobState.cancelled
            job.error = "consent for the voice was revoked"
            job.finished_at = utcnow()
            job.lease_owner = None
        await session.commit()
        for job in jobs:
            await release_hold(session, job.reservation_id)
    return [job.id for job in jobs]
