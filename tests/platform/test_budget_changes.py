"""Work in flight when a superadmin changes a tenant's budget is charged on the budget
in force when it settles: a job held under a month budget and settled after the budget
became a day one, or held before a per-user cap, escaped the new budget entirely."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scaispeak.platform.accounting import counters
from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.auth.models import Role
from scaispeak.platform.auth.principal import Principal
from tests.conftest import LiveApp
from tests.platform.test_accounting import (
    COST,
    JOE,
    SPEAK,
    TEXT,
    set_budget,
    set_day_budget,
    spent_by_the_budget,
)
from tests.platform.test_auth import assert_problem


def member_a(live: LiveApp) -> Principal:
    return Principal(live.tenancy.member_a_user, live.tenancy.tenant_a, Role.member)


def charge(request_id: str) -> accounting.Charge:
    return accounting.Charge(JOE, "selfhosted", "job", 12, 1.0, COST, request_id)


async def test_work_held_under_a_month_budget_counts_on_the_day_budget_that_replaced_it(
    live: LiveApp,
) -> None:
    assert (await set_budget(live, limit=100 * COST)).status_code == 200  # a month
    async with live.app.state.platform.db.sessions() as session:
        held = await accounting.reserve(session, member_a(live), 3 * COST)
        assert (await set_day_budget(live, limit=100 * COST)).json()["spent_micros"] == 0
        await accounting.settle(session, held, charge("req-job"))
    assert await spent_by_the_budget(live) == COST  # today's day budget sees it
    # And its hold left the month's counter: nothing stays reserved there for ever.
    assert (await set_budget(live, limit=100 * COST)).json()["reserved_micros"] == 0


async def test_work_held_before_a_per_user_cap_counts_on_that_users_cap(live: LiveApp) -> None:
    assert (await set_budget(live, limit=100 * COST)).status_code == 200
    async with live.app.state.platform.db.sessions() as session:
        held = await accounting.reserve(session, member_a(live), COST)
        capped = await set_budget(live, limit=100 * COST, per_user=COST)
        assert capped.status_code == 200
        await accounting.settle(session, held, charge("req-before-cap"))
    member = live.auth(live.tenancy.member_a)
    body = {"text": TEXT, "voice_id": JOE}
    assert_problem(await live.client.post(SPEAK, json=body, headers=member), 402, "budget_exceeded")
    # Another member of the tenant is under no one else's cap.
    admin = live.auth(live.tenancy.admin_a)
    assert (await live.client.post(SPEAK, json=body, headers=admin)).status_code == 200


async def test_a_released_hold_leaves_the_rows_it_was_made_on(live: LiveApp) -> None:
    assert (await set_budget(live, limit=100 * COST)).status_code == 200
    async with live.app.state.platform.db.sessions() as session:
        held = await accounting.reserve(session, member_a(live), 5 * COST)
        await set_day_budget(live, limit=100 * COST)
        assert await accounting.release(session, held)
    month = await set_budget(live, limit=100 * COST)
    assert (month.json()["reserved_micros"], month.json()["spent_micros"]) == (0, 0)


async def test_a_settlement_racing_a_budget_change_is_counted_once_on_the_new_budget(
    live: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settlement read the old budget, the change then recounted the new rows from
    a ledger without its line, and the settlement wrote to the old rows: lost."""
    assert (await set_budget(live, limit=100 * COST)).status_code == 200  # a month
    read_the_budget, go_on = asyncio.Event(), asyncio.Event()
    rows_read_now = counters._rows_read_now

    async def pausing(*args: Any) -> Any:
        rows = await rows_read_now(*args)
        read_the_budget.set()
        await go_on.wait()
        return rows

    monkeypatch.setattr(counters, "_rows_read_now", pausing)
    async with live.app.state.platform.db.sessions() as session:
        held = await accounting.reserve(session, member_a(live), COST)
        settling = asyncio.create_task(accounting.settle(session, held, charge("req-race")))
        await asyncio.wait_for(read_the_budget.wait(), 10)
        changing = asyncio.create_task(set_day_budget(live, limit=100 * COST))
        await asyncio.sleep(0.5)  # the change, had it not waited, has recounted by now
        go_on.set()
        await asyncio.wait_for(settling, 30)
        assert (await asyncio.wait_for(changing, 30)).status_code == 200
    assert await spent_by_the_budget(live) == COST
