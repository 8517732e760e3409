"""A job submit serialises with the tenant's other submits, and with nothing else: on
PostgreSQL it deadlocked with an inline request's budget hold; and a retry that finds
its original job under the lock answers with that job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.auth.models import Role
from scaispeak.platform.auth.principal import Principal
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs.service import _one_submit_at_a_time
from tests.conftest import LiveApp, make_settings, started_app
from tests.speak.jobs.support import give_tenant_a_budget
from tests.speak.jobs.test_jobs_embedded import submit


@pytest.fixture
async def budgeted(
    tmp_path: Path, database_url: str, engines: EngineRegistry
) -> AsyncIterator[LiveApp]:
    async with started_app(make_settings(tmp_path, database_url), engines) as app:
        await give_tenant_a_budget(app)
        yield app


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_submit_and_an_inline_hold_do_not_deadlock(budgeted: LiveApp) -> None:
    """The inline hold locks the spend counter and then inserts its reservation, which
    refers to the tenant; the submit locks the tenant and then wants the counter."""
    app = budgeted
    who = Principal(app.tenancy.member_a_user, app.tenancy.tenant_a, Role.member)
    db = app.app.state.platform.db
    async with db.sessions() as inline, db.sessions() as submitting:
        await accounting.hold(inline, who, 5)  # the counter row is now locked

        async def submit_holding() -> str:
            async with _one_submit_at_a_time(submitting, who.tenant_id):
                await accounting.hold(submitting, who, 7, long_running=True)
                await submitting.commit()
            return "submitted"

        waiting = asyncio.create_task(submit_holding())
        await asyncio.sleep(0.5)  # the submit holds the tenant and waits for the counter
        await inline.commit()  # its reservation's foreign key needs the tenant row
        assert await asyncio.wait_for(waiting, 30) == "submitted"


async def test_retries_racing_their_original_all_get_its_job(budgeted: LiveApp) -> None:
    """The retries wait for the original's commit under the lock and then find its job:
    reading that job after a rollback had expired it was a 500."""
    answers = await asyncio.gather(
        *(submit(budgeted, "Hello there.", key="twice") for _ in range(4))
    )
    assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
