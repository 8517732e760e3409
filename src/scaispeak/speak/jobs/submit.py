"""Turning a speak request into a queued job: every check first, then hold, then queue."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import Database
from scaispeak.platform.drive import files as drive
from scaispeak.platform.limits import TenantLimiter
from scaispeak.settings import Settings
from scaispeak.speak.context import SpeakContext
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.jobs.queue import JobQueue, kick_jobs
from scaispeak.speak.jobs.service import JobRequest, SaveTo, create_job, replay_of, request_hash
from scaispeak.speak.jobs.webhook_targets import TargetPolicy, check_webhook_url
from scaispeak.speak.provenance import service as provenance
from scaispeak.speak.synthesis.batch import plan_for, price_for
from scaispeak.speak.synthesis.service import SpeakParams, prepare_speech

_log = logging.getLogger(__name__)

# A submit should not wait long on a receiver's DNS: delivery checks the host again.
_SUBMIT_RESOLVE_TIMEOUT_S = 2.0


async def check_save_to(session: AsyncSession, caller: Principal, save_to: SaveTo) -> SaveTo:
    """Refuse a target the caller may not write before any synthesis starts. A browser
    token's target is never replaced, even by a file written there while its job runs:
    the job lands as its user, whose key may (helper-92)."""
    path = await drive.check_writable(
        session, caller, save_to.share_id, save_to.path, save_to.overwrite
    )
    return SaveTo(save_to.share_id, path, save_to.overwrite and not caller.via_browser_token)


async def check_webhook(settings: Settings, webhook_url: str) -> None:
    """Refuse a webhook aimed at loopback, private or metadata addresses (422)."""
    policy = TargetPolicy.from_settings(settings.jobs.webhook_allowed_targets)
    await check_webhook_url(webhook_url, policy, _SUBMIT_RESOLVE_TIMEOUT_S)


@dataclass(frozen=True)
class Submission:
    """What a caller asks of a job."""

    params: SpeakParams
    save_to: SaveTo | None
    webhook_url: str | None
    idempotency_key: str | None
    body: dict[str, Any]
    """The request body as sent, to tell a retry from another request."""


async def submit_job(
    session: AsyncSession,
    db: Database,
    ctx: SpeakContext,
    settings: Settings,
    limiter: TenantLimiter,
    caller: Principal,
    asked: Submission,
) -> tuple[SynthJob, bool]:
    """Queue a job (or return the earlier job for the same idempotency key).

    A submit is a request like any other: it counts against the tenant's requests per
    minute and holds one of its concurrent slots while it runs (not while the job runs:
    ``max_active_per_tenant`` bounds those).

    A retry of an earlier submit (its Idempotency-Key and body) is answered with that
    job before anything is checked again: whatever changed since (its ``save_to`` file
    now written, its voice withdrawn, the tenant busy) concerns a new job, not this one.
    """
    fingerprint = request_hash(asked.body)
    earlier = await replay_of(session, caller, asked.idempotency_key, fingerprint)
    if earlier is not None:
        return earlier, False
    async with limiter.slot(caller.tenant_id):
        job, created = await _create_checked(session, ctx, settings, caller, asked)
    if created:
        await _hand_to_queue(db, ctx.jobs, job.id)
    return job, created


async def _create_checked(
    session: AsyncSession,
    ctx: SpeakContext,
    settings: Settings,
    caller: Principal,
    asked: Submission,
) -> tuple[SynthJob, bool]:
    """Check everything, then create the job and its hold (not yet handed over)."""
    params, save_to, webhook_url = asked.params, asked.save_to, asked.webhook_url
    if webhook_url is not None:
        await check_webhook(settings, webhook_url)
    voice, spec = await prepare_speech(
        session, caller, params, ctx.engines, settings.limits, max_chars=settings.jobs.max_chars
    )
    mark = await provenance.should_watermark(
        session, settings.provenance, caller.tenant_id, voice, ctx.watermark_policies
    )
    spec = replace(spec, watermark=mark)
    routes = await plan_for(session, ctx, caller, voice, params.backend)
    if save_to is not None:
        save_to = await check_save_to(session, caller, save_to)
    prices = settings.accounting.prices_micros_per_char
    request = JobRequest(
        spec=spec,
        voice_id=voice.id,
        routes=routes,
        prices=dict(prices),
        plan=ctx.pipeline.plan(spec.text),
        hold_micros=max(price_for(settings, r.backend, len(spec.text)) for r in routes),
        save_to=save_to,
        webhook_url=webhook_url,
        idempotency_key=asked.idempotency_key,
        body_for_hash=asked.body,
    )
    return await create_job(
        session, caller, request, max_active=settings.jobs.max_active_per_tenant
    )


async def _hand_to_queue(db: Database, queue: JobQueue, job_id: str) -> None:
    """Kick a committed job; never fails the request. The job and its hold exist now:
    a 500 would tell the client it does not, and a retry without Idempotency-Key would
    make a second job. A job the queue did not get is the sweeper's to hand over."""
    try:
        await kick_jobs(db, queue, [job_id])
    except Exception:  # kick_jobs logs a queue that is down; this is anything else
        _log.exception("job %s not handed to the queue; the sweeper will", job_id)
