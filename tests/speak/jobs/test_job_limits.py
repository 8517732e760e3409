"""A tenant's jobs are bounded: at most ``max_active_per_tenant`` queued or running,
even when submits arrive together, and each submit counts as a request per minute."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from scaispeak.platform.accounting.models import Reservation
from scaispeak.settings import AccountingSettings, JobSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.synthesis.inference import InferencePoolClosed
from tests.conftest import LiveApp, make_settings, started_app
from tests.platform.test_auth import assert_problem
from tests.speak.jobs.support import give_tenant_a_budget
from tests.speak.jobs.test_jobs_embedded import JOE, STORY, submit

CAP = 3


@pytest.fixture
async def capped_app(
    tmp_path: Path, database_url: str, engines: EngineRegistry
) -> AsyncIterator[LiveApp]:
    """Jobs that stay active (their engine waits) under a cap of ``CAP`` per tenant,
    until the app stops and its inference pool shuts: then each call is refused as the
    pool refuses it (otherwise each stop waited out the jobs' 10 s grace)."""
    jobs = JobSettings(max_active_per_tenant=CAP)
    async with started_app(make_settings(tmp_path, database_url, jobs=jobs), engines) as app:
        gate = asyncio.Event()
        pool = app.app.state.speak.pool
        shut_pool = pool.shutdown

        def shutdown() -> None:
            gate.set()
            shut_pool()

        async def engine_waits(*_a: Any, **_k: Any) -> Any:
            await gate.wait()
            raise InferencePoolClosed("The inference pool is shutting down.")

        pool.shutdown = shutdown
        pipeline = app.app.state.speak.jobs.runtime.pipeline
        original = pipeline.speak_segment
        pipeline.speak_segment = engine_waits
        try:
            yield app
        finally:
            pipeline.speak_segment = original


async def test_a_tenant_over_its_active_jobs_gets_429_and_others_do_not(
    capped_app: LiveApp,
) -> None:
    app = capped_app
    first = await submit(app, key="first")
    for _ in range(CAP - 1):
        assert (await submit(app)).status_code == 202
    refused = await submit(app)
    assert_problem(refused, 429, "too_many_jobs")
    assert refused.headers["Retry-After"] == "30"
    # A replay of an earlier job is not a new job; another tenant has its own cap.
    replay = await submit(app, key="first")
    assert replay.status_code == 202 and replay.json()["id"] == first.json()["id"]
    other = app.auth(app.tenancy.member_b)
    body = {"text": STORY, "voice_id": JOE, "mode": "async"}
    theirs = await app.client.post("/v1/modules/scaispeak/speak", json=body, headers=other)
    assert theirs.status_code == 202, theirs.text
    # A cancelled job frees its place.
    cancel = await app.client.delete(
        f"/v1/modules/scaispeak/jobs/{first.json()['id']}", headers=app.auth(app.tenancy.member_a)
    )
    assert cancel.status_code == 200, cancel.text
    assert (await submit(app)).status_code == 202


async def test_simultaneous_submits_never_pass_the_cap(capped_app: LiveApp) -> None:
    answers = await asyncio.gather(*(submit(capped_app) for _ in range(3 * CAP)))
    assert Counter(a.status_code for a in answers) == {202: CAP, 429: 2 * CAP}


async def test_a_refused_submit_holds_no_budget(capped_app: LiveApp) -> None:
    """Over the cap a submit is a 429 (not a 500, not a 402) and leaves no hold behind:
    jobs' holds are never swept, so a leaked one would drain the budget for good."""
    app = capped_app
    await give_tenant_a_budget(app)
    answers = await asyncio.gather(*(submit(app) for _ in range(2 * CAP)))
    assert Counter(a.status_code for a in answers) == {202: CAP, 429: CAP}
    async with app.app.state.platform.db.sessions() as session:
        tenant = app.tenancy.tenant_a  # the PostgreSQL database holds other tests' rows
        held = (
            (await session.execute(select(Reservation).where(Reservation.tenant_id == tenant)))
            .scalars()
            .all()
        )
        jobs = (
            (await session.execute(select(SynthJob.reservation_id).filter_by(tenant_id=tenant)))
            .scalars()
            .all()
        )
    assert sorted(r.id for r in held) == sorted(jobs) and len(jobs) == CAP
    budget = await app.client.get(
        f"/v1/tenants/{app.tenancy.tenant_a}/budget", headers=app.auth(app.tenancy.superadmin)
    )
    assert budget.json()["reserved_micros"] == sum(r.amount_micros for r in held)


async def test_a_tenant_at_its_cap_with_no_money_left_hears_about_the_cap(
    capped_app: LiveApp,
) -> None:
    app = capped_app
    for _ in range(CAP):
        assert (await submit(app)).status_code == 202
    await give_tenant_a_budget(app, limit_micros=1)
    assert_problem(await submit(app), 429, "too_many_jobs")


async def test_a_submit_counts_against_the_tenants_requests_per_minute(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    accounting = AccountingSettings(requests_per_minute_per_tenant=2)
    async with started_app(make_settings(tmp_path, accounting=accounting), engines) as app:
        answers = [await submit(app) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [202, 202]
    assert_problem(answers[2], 429, "rate_limited")
    assert answers[2].json()["limit"] == 2  # the documented 413/429 member
