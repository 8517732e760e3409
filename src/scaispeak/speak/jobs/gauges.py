"""Queue depth for operators, counted in the database when Prometheus scrapes.

Every API replica and worker reports the same deployment-wide figures (the database
is the queue's record), so a dashboard takes ``max()`` over instances, not ``sum()``.
Counting at scrape time keeps them exact without a process that must own them.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import func, select

from scaispeak.platform.db import Database, as_utc, utcnow
from scaispeak.speak.jobs.models import ACTIVE, JobState, SynthJob

_log = logging.getLogger(__name__)


class JobGauges:
    def __init__(self, registry: CollectorRegistry, db: Database) -> None:
        self.db = db
        self.jobs = Gauge(
            "scaispeak_jobs",
            "Synth jobs queued or running, deployment-wide.",
            ["state"],
            registry=registry,
        )
        self.oldest_queued = Gauge(
            "scaispeak_jobs_oldest_queued_seconds",
            "Age of the oldest queued job (0 when none waits), deployment-wide.",
            registry=registry,
        )
        self.webhooks_pending = Gauge(
            "scaispeak_job_webhooks_pending",
            "Job-ended events with a delivery attempt still due, deployment-wide.",
            registry=registry,
        )

    async def refresh(self) -> None:
        """Read the figures; on a database error keep the last ones (and log it), as
        the rest of the scrape must still be served."""
        try:
            await self._read()
        except Exception as exc:
            _log.warning("could not count jobs for /metrics: %r", exc)

    async def _read(self) -> None:
        async with self.db.sessions() as session:
            counted = await session.execute(
                select(SynthJob.state, func.count())
                .where(SynthJob.state.in_(ACTIVE))
                .group_by(SynthJob.state)
            )
            by_state = {JobState(state): count for state, count in counted.all()}
            oldest = await session.scalar(
                select(func.min(SynthJob.created_at)).where(SynthJob.state == JobState.queued)
            )
            webhooks = await session.scalar(
                select(func.count()).where(SynthJob.webhook_due_at.is_not(None))
            )
        for state in ACTIVE:
            self.jobs.labels(state.value).set(by_state.get(state, 0))
        age = (utcnow() - as_utc(oldest)).total_seconds() if oldest is not None else 0.0
        self.oldest_queued.set(max(age, 0.0))
        self.webhooks_pending.set(webhooks or 0)
