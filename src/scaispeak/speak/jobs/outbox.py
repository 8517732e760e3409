"""A job's webhook event lives on its row until it is delivered: at least once.

The job's end (succeeded or failed) sets ``webhook_due_at`` in the same commit as the
state, so the event exists exactly when the outcome does. Whichever process runs jobs
delivers due events: the one that ended the job at once, and every process's sweep
those that a stopped or crashed process left behind.

Before each attempt a process claims it with a conditional UPDATE that moves
``webhook_due_at`` past the attempt's longest duration, so two processes never send
the same attempt, and one that dies mid-attempt leaves the event due again once that
time has passed. The outcome is written only while the claim still stands.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, case, null, select, update

from scaispeak.platform.db import Database, utcnow
from scaispeak.settings import JobSettings
from scaispeak.speak.jobs.models import WITHOUT_TEXT, JobState, SynthJob
from scaispeak.speak.jobs.schemas import job_out
from scaispeak.speak.jobs.webhook_secrets import secrets_of
from scaispeak.speak.jobs.webhooks import Sent, origin, send

if TYPE_CHECKING:
    from scaispeak.speak.jobs.runtime import JobRuntime

_log = logging.getLogger(__name__)
EVENTS = (JobState.succeeded, JobState.failed, JobState.cancelled)
"""Job ends that may send an event: a cancel only when the caller did not ask for it
(its voice was withdrawn: service.cancel_jobs_of_voice), which sets the event due."""
_SWEEP_BATCH = 50


def due_on_ending(now: datetime) -> ColumnElement[datetime | None]:
    """``webhook_due_at`` for the UPDATE that ends a job: now if it has a webhook."""
    return case((SynthJob.webhook_url.is_not(None), now), else_=null())


def attempt_window(settings: JobSettings) -> timedelta:
    """The longest one attempt takes (resolving the host, then the POST), with margin."""
    return timedelta(seconds=2 * settings.webhook_timeout_s + 5)


async def due_events(db: Database, limit: int = _SWEEP_BATCH) -> list[str]:
    """Ids of jobs whose event is due now, oldest first."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(SynthJob.id)
            .where(SynthJob.webhook_due_at <= utcnow())
            .order_by(SynthJob.webhook_due_at)
            .limit(limit)
        )
        return list(rows.scalars())


@dataclass(frozen=True)
class Attempt:
    sent: Sent | None
    """None: no attempt was made (not due, or another process is sending it)."""
    next_due: datetime | None = None
    """When to try again; None when no attempt is left to this caller."""


async def attempt(db: Database, settings: JobSettings, signing_key: str, job_id: str) -> Attempt:
    """Send the job's event once, if it is due and nobody else is sending it."""
    claim = utcnow() + attempt_window(settings)
    job = await _claim(db, job_id, claim)
    if job is None:
        return Attempt(None)
    assert job.webhook_url is not None  # only jobs with a webhook are ever due
    event = {"event": f"job.{job.state.value}", "job": job_out(job).model_dump(mode="json")}
    async with db.sessions() as session:  # read at each attempt: a rotation counts at once
        secrets = await secrets_of(session, signing_key, job.tenant_id, job.user_id)
    sent = await send(job.webhook_url, event, secrets.all(), settings)
    return await _record(db, settings, job, claim, sent)


async def _claim(db: Database, job_id: str, until: datetime) -> SynthJob | None:
    async with db.sessions() as session:
        claimed = await session.execute(
            update(SynthJob)
            .where(SynthJob.id == job_id, SynthJob.webhook_due_at <= utcnow())
            .values(webhook_due_at=until)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            await session.commit()
            return None
        # The event carries the job as listed (job_out), never its text.
        job = await session.get(SynthJob, job_id, populate_existing=True, options=[WITHOUT_TEXT])
        await session.commit()  # sessions keep their rows loaded on commit
        return job


async def _record(
    db: Database, settings: JobSettings, job: SynthJob, claim: datetime, sent: Sent
) -> Attempt:
    """Write the attempt's outcome, unless the claim lapsed and another process took
    the event over (its outcome is the one that counts)."""
    attempts = job.webhook_attempts + 1
    now = utcnow()
    next_due = None
    if sent is Sent.FAILED and attempts < settings.webhook_attempts:
        next_due = now + timedelta(seconds=_backoff(settings, attempts))
    outcome: dict[str, object] = {
        "webhook_due_at": next_due,
        "webhook_attempts": attempts,
        "webhook_delivered_at": now if sent is Sent.DELIVERED else None,
    }
    if next_due is None and job.webhook_url:
        # The event is settled and no other will follow: the URL's path, where receivers
        # keep a secret, is not kept past its use.
        outcome["webhook_url"] = origin(job.webhook_url)
    async with db.sessions() as session:
        await session.execute(
            update(SynthJob)
            .where(SynthJob.id == job.id, SynthJob.webhook_due_at == claim)
            .values(outcome)
        )
        await session.commit()
    if sent is Sent.FAILED and next_due is None:
        _log.warning("webhook of %s given up after %d attempts", job.id, attempts)
    return Attempt(sent, next_due)


def _backoff(settings: JobSettings, attempts: int) -> float:
    """Doubling from ``webhook_backoff_s``, with jitter so receivers coming back up are
    not hit by every sender at the same instant."""
    return float(settings.webhook_backoff_s * 2 ** (attempts - 1) * random.uniform(0.5, 1.5))


def deliver_in_background(rt: JobRuntime, job_id: str) -> None:
    """Deliver the job's due event, with retries, unless this process already is."""
    name = f"webhook of {job_id}"
    if any(task.get_name() == name for task in rt.background):
        return
    task = asyncio.create_task(_deliver(rt, job_id), name=name)
    rt.background.add(task)
    task.add_done_callback(rt.background.discard)


async def _deliver(rt: JobRuntime, job_id: str) -> bool:
    """Attempt until no attempt is left to this process; returns whether the last
    attempt made here delivered the event. A database error leaves the event due
    for the next sweep."""
    while True:
        try:
            tried = await attempt(rt.db, rt.settings, rt.signing_key, job_id)
        except Exception:
            _log.warning("webhook of %s: attempt failed, left to the sweep", job_id, exc_info=True)
            return False
        if tried.next_due is None:
            return tried.sent is Sent.DELIVERED
        await asyncio.sleep(max(0.0, (tried.next_due - utcnow()).total_seconds()))


async def drain_notifications(rt: JobRuntime, grace_s: float) -> None:
    """On shutdown, give webhook deliveries still in flight ``grace_s`` to finish.

    Those still running when the grace ends (a slow receiver, a retry waiting out its
    backoff) are cancelled. Their events stay due on the job rows, so another process's
    sweep (or this one's, after a restart) delivers them (docs/jobs.md, Webhooks).
    """
    if not rt.background:
        return
    _, cut_off = await asyncio.wait(set(rt.background), timeout=grace_s)
    for task in cut_off:
        task.cancel()
        _log.warning(
            "stopping: %s not delivered (cut off after %.0f s); it stays due for a later sweep",
            task.get_name(),
            grace_s,
        )
    await asyncio.gather(*cut_off, return_exceptions=True)
