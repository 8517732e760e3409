"""Work in flight when a superadmin changes a tenant's budget is charged on the budget
in force when it settles: a job held under a month budget and settled after the budget
became a day one, or held before a per-user cap, escaped the new budget entirely."""

from __future__ import annotations

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
