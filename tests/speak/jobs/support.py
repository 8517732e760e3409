"""Helpers the job tests share: budgets, holds, checkpoints, a dead worker's lease."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from scaispeak.platform.accounting.models import Reservation, ReservationState
from scaispeak.platform.db import utcnow
from scaispeak.speak.jobs.assembly import segment_key
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.jobs.queue import sweep_once
from tests.conftest import LiveApp


async def give_tenant_a_budget(app: LiveApp, limit_micros: int = 10**12) -> None:
    """With a budget, a job's hold is a stored reservation whose state tests can read."""
    response = await app.client.put(
        f"/v1/tenants/{app.tenancy.tenant_a}/budget",
        json={"period": "month", "limit_micros": limit_micros},
        headers=app.auth(app.tenancy.superadmin),
    )
    assert response.status_code == 200, response.text


async def hold_state(app: LiveApp, job_id: str) -> ReservationState:
    async with app.app.state.platform.db.sessions() as session:
        stmt = select(Reservation.state).join(SynthJob, SynthJob.reservation_id == Reservation.id)
        return (await session.execute(stmt.where(SynthJob.id == job_id))).scalar_one()


async def job_row(app: LiveApp, job_id: str) -> SynthJob:
    async with app.app.state.platform.db.sessions() as session:
        row = await session.get(SynthJob, job_id)
        assert row is not None
        return row


async def checkpoints_left(app: LiveApp, job_id: str, segments: int) -> list[int]:
    storage = app.app.state.platform.storage
    return [i for i in range(segments) if await storage.exists(segment_key(job_id, i))]


async def no_checkpoints_left(app: LiveApp, job_id: str, segments: int) -> bool:
    return not await checkpoints_left(app, job_id, segments)


async def expire_lease_and_sweep(app: LiveApp, job_id: str) -> None:
    """What happens after a worker died: its lease runs out and the sweeper re-queues."""
    async with app.app.state.platform.db.sessions() as session:
        row = await session.get(SynthJob, job_id)
        assert row is not None and row.state.value == "running", row
        row.lease_until = utcnow() - timedelta(seconds=1)
        row.last_kick_at = row.lease_until - timedelta(seconds=30)
        await session.commit()
        expired = row.lease_until
    swept = await sweep_once(app.app.state.platform.db, app.app.state.speak.jobs)
    if job_id not in swept:  # the app's own sweeper (every 5 s) may get there first
        kicked = (await job_row(app, job_id)).last_kick_at
        assert kicked is not None and kicked > expired, "nobody re-queued it"


async def secret_of(app: LiveApp, key: str) -> str:
    """The webhook signing secret of the user whose API key this is."""
    answer = await app.client.get(
        "/v1/modules/scaispeak/jobs/webhook-secret", headers=app.auth(key)
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["secret"])
