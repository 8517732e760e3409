"""Budgets that concurrent requests cannot overspend, the ledger, usage and limits."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from scaispeak.platform.accounting.models import Reservation, ReservationState, UsageEntry
from scaispeak.settings import AccountingSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.synthesis.audio import EncodingFailed
from scaispeak.speak.synthesis.speech import MadeSpeech, SpokenClip
from tests.conftest import LiveApp, make_settings, started_app
from tests.platform.test_auth import assert_problem

SPEAK = "/v1/modules/scaispeak/speak"
JOE = "voc_piper_en-us-joe-medium"
TEXT = "Budget test."  # 12 characters: 180 micro-credits at the default self-hosted price
COST = 12 * 15


async def set_budget(app: LiveApp, limit: int, per_user: int | None = None) -> httpx.Response:
    return await app.client.put(
        f"/v1/tenants/{app.tenancy.tenant_a}/budget",
        json={"period": "month", "limit_micros": limit, "per_user_limit_micros": per_user},
        headers=app.auth(app.tenancy.superadmin),
    )


async def ledger_sum(app: LiveApp, tenant_id: str) -> int:
    async with app.app.state.platform.db.sessions() as session:
        total = await session.execute(
            select(func.coalesce(func.sum(UsageEntry.cost_micros), 0)).where(
                UsageEntry.tenant_id == tenant_id
            )
        )
        return int(total.scalar_one())


async def test_fifty_concurrent_requests_never_overspend_a_budget_for_ten(
    tmp_path: Path, database_url: str, engines: EngineRegistry
) -> None:
    settings = make_settings(
        tmp_path, database_url, accounting=AccountingSettings(max_concurrent_per_tenant=100)
    )
    async with started_app(settings, engines) as app:
        assert (await set_budget(app, limit=10 * COST)).status_code == 200
        headers = app.auth(app.tenancy.member_a)
        body = {"text": TEXT, "voice_id": JOE, "format": "pcm"}
        responses = await asyncio.gather(
            *(app.client.post(SPEAK, json=body, headers=headers) for _ in range(50))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) == 10, statuses
        assert statuses.count(402) == 40, statuses
        budget = (
            await app.client.get(f"/v1/tenants/{app.tenancy.tenant_a}/budget", headers=headers)
        ).json()
        assert budget["spent_micros"] == 10 * COST <= budget["limit_micros"]
        assert budget["reserved_micros"] == 0
        assert await ledger_sum(app, app.tenancy.tenant_a) == budget["spent_micros"]


async def test_over_budget_is_402_problem_and_nothing_is_charged(live: LiveApp) -> None:
    await set_budget(live, limit=COST - 1)
    response = await live.client.post(
        SPEAK, json={"text": TEXT, "voice_id": JOE}, headers=live.auth(live.tenancy.member_a)
    )
    assert_problem(response, 402, "budget_exceeded")
    assert await ledger_sum(live, live.tenancy.tenant_a) == 0


async def test_per_user_cap_stops_one_user_but_not_a_colleague(live: LiveApp) -> None:
    await set_budget(live, limit=100 * COST, per_user=COST)
    body = {"text": TEXT, "voice_id": JOE}
    member = live.auth(live.tenancy.member_a)
    assert (await live.client.post(SPEAK, json=body, headers=member)).status_code == 200
    assert_problem(await live.client.post(SPEAK, json=body, headers=member), 402, "budget_exceeded")
    admin = live.auth(live.tenancy.admin_a)
    assert (await live.client.post(SPEAK, json=body, headers=admin)).status_code == 200


async def spent_by_the_budget(app: LiveApp) -> int:
    budget = await app.client.get(
        f"/v1/tenants/{app.tenancy.tenant_a}/budget", headers=app.auth(app.tenancy.superadmin)
    )
    return int(budget.json()["spent_micros"])


async def test_a_new_budget_counts_what_the_period_already_spent(live: LiveApp) -> None:
    body = {"text": TEXT, "voice_id": JOE}
    member = live.auth(live.tenancy.member_a)
    assert (await live.client.post(SPEAK, json=body, headers=member)).status_code == 200
    assert (await set_budget(live, limit=COST + 1)).json()["spent_micros"] == COST
    assert_problem(await live.client.post(SPEAK, json=body, headers=member), 402, "budget_exceeded")


async def test_a_per_user_cap_counts_what_the_user_already_spent(live: LiveApp) -> None:
    body = {"text": TEXT, "voice_id": JOE}
    member = live.auth(live.tenancy.member_a)
    await set_budget(live, limit=100 * COST)
    assert (await live.client.post(SPEAK, json=body, headers=member)).status_code == 200
    await set_budget(live, limit=100 * COST, per_user=COST + 1)
    assert_problem(await live.client.post(SPEAK, json=body, headers=member), 402, "budget_exceeded")
    admin = live.auth(live.tenancy.admin_a)
    assert (await live.client.post(SPEAK, json=body, headers=admin)).status_code == 200


async def test_going_back_to_a_period_counts_what_was_spent_meanwhile(live: LiveApp) -> None:
    body = {"text": TEXT, "voice_id": JOE}
    member = live.auth(live.tenancy.member_a)
    await set_budget(live, limit=100 * COST)
    assert (await live.client.post(SPEAK, json=body, headers=member)).status_code == 200
    day = await live.client.put(
        f"/v1/tenants/{live.tenancy.tenant_a}/budget",
        json={"period": "day", "limit_micros": 100 * COST},
        headers=live.auth(live.tenancy.superadmin),
    )
    assert day.json()["spent_micros"] == COST
    assert (await live.client.post(SPEAK, json=body, headers=member)).status_code == 200
    await set_budget(live, limit=100 * COST)  # back to the month
    assert await spent_by_the_budget(live) == 2 * COST


async def test_successful_speak_writes_one_ledger_line_and_usage_headers(live: LiveApp) -> None:
    response = await live.client.post(
        SPEAK, json={"text": TEXT, "voice_id": JOE}, headers=live.auth(live.tenancy.member_a)
    )
    assert response.headers["x-scaispeak-backend"] == "selfhosted"
    assert response.headers["x-scaispeak-cost-micros"] == str(COST)
    async with live.app.state.platform.db.sessions() as session:
        rows = (
            await session.execute(
                select(UsageEntry).where(UsageEntry.tenant_id == live.tenancy.tenant_a)
            )
        ).scalars()
        (entry,) = list(rows)
    assert (entry.characters, entry.backend, entry.kind, entry.voice_id) == (
        12,
        "selfhosted",
        "speak",
        JOE,
    )
    assert entry.request_id == response.headers["x-request-id"]
    assert entry.audio_seconds == pytest.approx(
        float(response.headers["x-scaispeak-audio-seconds"]), abs=0.001
    )


async def test_an_encoder_failure_is_never_charged_and_releases_the_hold(
    live: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mp3 goes through a codec, which can fail: it is encoded before anything is settled."""
    await set_budget(live, limit=10 * COST)
    pipeline = live.app.state.speak.pipeline

    async def encoder_fails(made: MadeSpeech) -> SpokenClip:
        raise EncodingFailed("the codec gave up")

    monkeypatch.setattr(pipeline, "assemble", encoder_fails)
    body = {"text": TEXT, "voice_id": JOE, "format": "mp3"}
    failed = await live.client.post(SPEAK, json=body, headers=live.auth(live.tenancy.member_a))
    assert_problem(failed, 500, "internal_error")
    assert await ledger_sum(live, live.tenancy.tenant_a) == 0
    budget = (
        await live.client.get(
            f"/v1/tenants/{live.tenancy.tenant_a}/budget", headers=live.auth(live.tenancy.admin_a)
        )
    ).json()
    assert budget["reserved_micros"] == 0 and budget["spent_micros"] == 0


@pytest.mark.parametrize("budgeted", [False, True])
async def test_a_pcm_charge_is_settled_while_the_clip_is_encoded(
    live: LiveApp, monkeypatch: pytest.MonkeyPatch, budgeted: bool
) -> None:
    """pcm/wav/mu-law encoding cannot fail, so the settlement does not wait for it: the
    assembling step here waits for the ledger line to appear, and would wait forever if
    the settlement came after it."""
    if budgeted:
        await set_budget(live, limit=10 * COST)
    pipeline = live.app.state.speak.pipeline
    assemble = pipeline.assemble

    async def settled() -> bool:
        return await ledger_sum(live, live.tenancy.tenant_a) == COST

    async def assemble_once_settled(made: MadeSpeech) -> SpokenClip:
        async with asyncio.timeout(10):
            while not await settled():  # noqa: ASYNC110 - polling the database on purpose
                await asyncio.sleep(0.01)
        return await assemble(made)

    monkeypatch.setattr(pipeline, "assemble", assemble_once_settled)
    body = {"text": TEXT, "voice_id": JOE, "format": "pcm"}
    response = await live.client.post(SPEAK, json=body, headers=live.auth(live.tenancy.member_a))
    assert response.status_code == 200
    assert response.headers["x-scaispeak-cost-micros"] == str(COST)
    seconds = len(response.content) / 2 / int(response.headers["x-scaispeak-sample-rate"])
    async with live.app.state.platform.db.sessions() as session:
        ours = select(UsageEntry).where(UsageEntry.tenant_id == live.tenancy.tenant_a)
        (entry,) = (await session.execute(ours)).scalars()
    # Worked out before the clip was resampled to 24 kHz: equal to within a sample.
    assert entry.audio_seconds == pytest.approx(seconds, abs=1 / 24_000)


async def test_refused_request_holds_no_money(live: LiveApp) -> None:
    await set_budget(live, limit=10 * COST)
    response = await live.client.post(
        SPEAK,
        json={"text": TEXT, "voice_id": JOE, "backend": "relay"},
        headers=live.auth(live.tenancy.member_a),
    )
    assert_problem(response, 422, "unknown_backend")  # no relay configured here
    async with live.app.state.platform.db.sessions() as session:
        held = await session.execute(
            select(func.count()).where(Reservation.state == ReservationState.held)
        )
        assert held.scalar_one() == 0


async def set_day_budget(app: LiveApp, limit: int) -> httpx.Response:
    return await app.client.put(
        f"/v1/tenants/{app.tenancy.tenant_a}/budget",
        json={"period": "day", "limit_micros": limit},
        headers=app.auth(app.tenancy.superadmin),
    )


async def test_work_held_yesterday_and_settled_today_counts_on_yesterday(
    live: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a job submitted before midnight and finished after it: the counters charge
    the day of its hold, so a recount (a budget changed) and the usage report must
    too; a recount counted it again on the day it settled."""
    from scaispeak.platform.accounting import service as accounting
    from scaispeak.platform.auth.models import Role
    from scaispeak.platform.auth.principal import Principal
    from scaispeak.platform.db import utcnow

    await set_day_budget(live, limit=100 * COST)
    me = Principal(live.tenancy.member_a_user, live.tenancy.tenant_a, Role.member)
    yesterday = utcnow() - timedelta(days=1)
    async with live.app.state.platform.db.sessions() as session:
        monkeypatch.setattr(accounting, "utcnow", lambda: yesterday)
        reservation = await accounting.reserve(session, me, COST)
        monkeypatch.undo()
        charge = accounting.Charge(JOE, "selfhosted", "job", 12, 1.0, COST, "req-late")
        await accounting.settle(session, reservation, charge)
    assert await spent_by_the_budget(live) == 0  # today's counter: nothing held today
    assert (await set_day_budget(live, limit=50 * COST)).json()["spent_micros"] == 0
    usage = (await live.client.get("/v1/usage", headers=live.auth(live.tenancy.admin_a))).json()
    assert [(r["day"], r["cost_micros"]) for r in usage["rows"]] == [
        (yesterday.date().isoformat(), COST)
    ]


async def test_work_held_before_a_first_budget_counts_on_it_when_it_settles(
    live: LiveApp,
) -> None:
    """Queued jobs of an unbudgeted tenant run for hours: a budget set meanwhile starts
    from the ledger, which does not have them yet, so they never counted."""
    from scaispeak.platform.accounting import service as accounting
    from scaispeak.platform.auth.models import Role
    from scaispeak.platform.auth.principal import Principal

    me = Principal(live.tenancy.member_a_user, live.tenancy.tenant_a, Role.member)
    async with live.app.state.platform.db.sessions() as session:
        unbudgeted = await accounting.reserve(session, me, COST)
        unbudgeted.created_at -= timedelta(seconds=30)  # a job that has run a while
        assert (await set_budget(live, limit=100 * COST, per_user=50 * COST)).status_code == 200
        assert await spent_by_the_budget(live) == 0
        charge = accounting.Charge(JOE, "selfhosted", "job", 12, 1.0, COST, "req-queued")
        await accounting.settle(session, unbudgeted, charge)
        await accounting.settle(session, unbudgeted, charge)  # a redelivery: once only
    assert await spent_by_the_budget(live) == COST
    # The per-user cap counts it too: the member has room for 49 more, not 50.
    assert (await set_budget(live, limit=100 * COST, per_user=COST)).json()["spent_micros"] == COST
    member = live.auth(live.tenancy.member_a)
    body = {"text": TEXT, "voice_id": JOE}
    assert_problem(await live.client.post(SPEAK, json=body, headers=member), 402, "budget_exceeded")


async def test_usage_members_see_their_own_admins_the_tenant(live: LiveApp) -> None:
    t = live.tenancy
    body = {"text": TEXT, "voice_id": JOE}
    for key in (t.member_a, t.admin_a, t.member_b):
        assert (await live.client.post(SPEAK, json=body, headers=live.auth(key))).status_code == 200
    mine = (await live.client.get("/v1/usage", headers=live.auth(t.member_a))).json()
    assert {r["user_id"] for r in mine["rows"]} == {t.member_a_user}
    assert mine["total_characters"] == 12 and mine["total_cost_micros"] == COST
    tenant = (await live.client.get("/v1/usage", headers=live.auth(t.admin_a))).json()
    assert len({r["user_id"] for r in tenant["rows"]}) == 2
    assert tenant["total_characters"] == 24
    other = (await live.client.get("/v1/usage", headers=live.auth(t.member_b))).json()
    assert other["total_characters"] == 12
    # A superadmin may read any tenant's usage; nobody else may name another tenant.
    acme = f"/v1/usage?tenant_id={t.tenant_a}"
    read = (await live.client.get(acme, headers=live.auth(t.superadmin))).json()
    assert read["total_characters"] == 24
    globex = f"/v1/usage?tenant_id={t.tenant_b}"
    for url, key in ((acme, t.member_b), (globex, t.admin_a)):
        assert_problem(await live.client.get(url, headers=live.auth(key)), 404, "not_found")
    # A tenant that does not exist is not one that never spoke.
    unknown = "/v1/usage?tenant_id=no-such-tenant"
    assert_problem(
        await live.client.get(unknown, headers=live.auth(t.superadmin)), 404, "not_found"
    )
    backwards = "/v1/usage?start=2026-02-02&end=2026-02-01"
    assert_problem(
        await live.client.get(backwards, headers=live.auth(t.admin_a)), 400, "bad_request"
    )


async def test_a_member_naming_a_colleague_or_a_day_not_written_yyyy_mm_dd_is_refused(
    live: LiveApp,
) -> None:
    """A colleague's id was ignored, and the member's own rows answered for it; "?start=0"
    was read as 1970-01-01 (helper-98)."""
    t = live.tenancy
    member = live.auth(t.member_a)
    admin = (await live.client.get("/v1/auth/me", headers=live.auth(t.admin_a))).json()
    colleague = f"/v1/usage?user_id={admin['user_id']}"
    assert_problem(await live.client.get(colleague, headers=member), 404, "not_found")
    own = await live.client.get(f"/v1/usage?user_id={t.member_a_user}", headers=member)
    assert own.status_code == 200
    for query in ("start=0", "start=86400&end=1", "end=2026-2-1", "start=2026-02-01T00:00"):
        response = await live.client.get(f"/v1/usage?{query}", headers=member)
        assert_problem(response, 422, "validation_error")
    assert (await live.client.get("/v1/usage?start=2026-02-01", headers=member)).status_code == 200


async def test_a_budget_past_what_a_counter_holds_is_422(live: LiveApp) -> None:
    for field in ("limit_micros", "per_user_limit_micros"):
        response = await live.client.put(
            f"/v1/tenants/{live.tenancy.tenant_a}/budget",
            json={"limit_micros": 10**6, field: 10**18 + 1},
            headers=live.auth(live.tenancy.superadmin),
        )
        assert_problem(response, 422, "validation_error")


async def test_the_published_budget_bound_is_the_one_accepted(live: LiveApp) -> None:
    """/openapi.json writes bounds as floats: 2**63 - 1 was published as 2**63, one more
    than a PUT could send (helper-98)."""
    schema = (await live.client.get("/openapi.json")).json()["components"]["schemas"]
    published = schema["BudgetIn"]["properties"]["limit_micros"]["maximum"]
    response = await live.client.put(
        f"/v1/tenants/{live.tenancy.tenant_a}/budget",
        json={"limit_micros": int(published)},
        headers=live.auth(live.tenancy.superadmin),
    )
    assert response.status_code == 200, response.text


async def test_only_a_superadmin_sets_a_tenant_budget(live: LiveApp) -> None:
    response = await live.client.put(
        f"/v1/tenants/{live.tenancy.tenant_a}/budget",
        json={"limit_micros": 10**9},
        headers=live.auth(live.tenancy.admin_a),
    )
    assert_problem(response, 403, "forbidden")
    assert "Only a superadmin" in response.json()["detail"]
    member = await live.client.put(
        f"/v1/tenants/{live.tenancy.tenant_a}/budget",
        json={"limit_micros": 10**9},
        headers=live.auth(live.tenancy.member_a),
    )
    assert_problem(member, 403, "forbidden")
    assert "Only a superadmin" in member.json()["detail"]  # not "only a tenant admin"
    for method in ("GET", "PUT"):
        foreign = await live.client.request(
            method,
            f"/v1/tenants/{live.tenancy.tenant_a}/budget",
            json={"limit_micros": 10**9},
            headers=live.auth(live.tenancy.member_b),
        )
        assert_problem(foreign, 404, "not_found")


async def test_rate_limit_is_429_with_retry_after(tmp_path: Path, engines: EngineRegistry) -> None:
    settings = make_settings(
        tmp_path, accounting=AccountingSettings(requests_per_minute_per_tenant=2)
    )
    async with started_app(settings, engines) as app:
        body = {"text": TEXT, "voice_id": JOE}
        headers = app.auth(app.tenancy.member_a)
        codes = [(await app.client.post(SPEAK, json=body, headers=headers)) for _ in range(3)]
        assert [r.status_code for r in codes[:2]] == [200, 200]
        assert_problem(codes[2], 429, "rate_limited")
        assert 1 <= int(codes[2].headers["retry-after"]) <= 60
        other = await app.client.post(SPEAK, json=body, headers=app.auth(app.tenancy.member_b))
        assert other.status_code == 200  # another tenant has its own window


async def test_concurrency_limit_is_429(tmp_path: Path, engines: EngineRegistry) -> None:
    settings = make_settings(tmp_path, accounting=AccountingSettings(max_concurrent_per_tenant=1))
    async with started_app(settings, engines) as app:
        text = "A sentence long enough to keep the engine busy for a moment. " * 3
        body = {"text": text, "voice_id": JOE}
        headers = app.auth(app.tenancy.member_a)
        responses = await asyncio.gather(
            *(app.client.post(SPEAK, json=body, headers=headers) for _ in range(4))
        )
        codes = sorted(r.status_code for r in responses)
        assert codes[0] == 200 and codes[-1] == 429, codes
        assert set(codes) == {200, 429}
        refused = next(r for r in responses if r.status_code == 429)
        assert_problem(refused, 429, "rate_limited")
        assert refused.headers["retry-after"] == "1"


@pytest.mark.parametrize("budgeted", [False, True])
async def test_settling_twice_charges_once(live: LiveApp, budgeted: bool) -> None:
    """A redelivered job settles again: the ledger must still hold one line."""
    from scaispeak.platform.accounting import service as accounting
    from scaispeak.platform.auth.models import Role
    from scaispeak.platform.auth.principal import Principal

    if budgeted:
        await set_budget(live, limit=10 * COST)
    me = Principal(live.tenancy.member_a_user, live.tenancy.tenant_a, Role.member)
    charge = accounting.Charge(JOE, "selfhosted", "job", 12, 1.0, COST, "req-1")
    async with live.app.state.platform.db.sessions() as session:
        reservation = await accounting.reserve(session, me, COST)
        first = await accounting.settle(session, reservation, charge)
        second = await accounting.settle(session, reservation, charge)
    assert first.id == second.id
    assert await ledger_sum(live, live.tenancy.tenant_a) == COST


async def test_a_hold_released_by_the_sweep_is_still_charged_once_when_settled(
    live: LiveApp,
) -> None:
    """A replica's start-up sweep may release a hold whose work is still running on
    another replica; that work's settlement must charge it (once), not fail."""
    from datetime import timedelta

    from scaispeak.platform.accounting import service as accounting
    from scaispeak.platform.accounting.sweeper import release_stale
    from scaispeak.platform.auth.models import Role
    from scaispeak.platform.auth.principal import Principal

    await set_budget(live, limit=10 * COST)
    me = Principal(live.tenancy.member_a_user, live.tenancy.tenant_a, Role.member)
    charge = accounting.Charge(JOE, "selfhosted", "stream", 12, 1.0, COST, "req-1")
    async with live.app.state.platform.db.sessions() as session:
        reservation = await accounting.reserve(session, me, 5 * COST)
        assert await release_stale(session, timedelta(0)) == 1
        first = await accounting.settle(session, reservation, charge)
        again = await accounting.settle(session, reservation, charge)
    assert first.id == again.id
    assert await ledger_sum(live, live.tenancy.tenant_a) == COST
    budget = await live.client.get(
        f"/v1/tenants/{live.tenancy.tenant_a}/budget", headers=live.auth(live.tenancy.admin_a)
    )
    assert budget.json()["spent_micros"] == COST, budget.json()
    assert budget.json()["reserved_micros"] == 0, budget.json()


async def test_a_hold_nobody_renews_is_released_while_the_server_runs(
    tmp_path: Path, database_url: str, engines: EngineRegistry
) -> None:
    """Left by a crashed replica: no restart of this one is needed to give it back."""
    from scaispeak.platform.accounting import service as accounting
    from scaispeak.platform.auth.models import Role
    from scaispeak.platform.auth.principal import Principal

    quick = AccountingSettings(
        stale_reservation_s=1, hold_sweep_interval_s=0.2, stream_checkpoint_s=0.25
    )
    async with started_app(make_settings(tmp_path, database_url, accounting=quick), engines) as app:
        await set_budget(app, limit=10 * COST)
        me = Principal(app.tenancy.member_a_user, app.tenancy.tenant_a, Role.member)
        async with app.app.state.platform.db.sessions() as session:
            abandoned = await accounting.reserve(session, me, COST)
        for _ in range(100):
            async with app.app.state.platform.db.sessions() as session:
                row = await session.get(Reservation, abandoned.id)
                assert row is not None
                if row.state is ReservationState.released:
                    break
            await asyncio.sleep(0.1)
        assert row.state is ReservationState.released


@pytest.mark.parametrize("budgeted", [False, True])
async def test_a_reservation_leaves_no_transaction_open_for_the_synthesis(
    live: LiveApp, budgeted: bool
) -> None:
    """Synthesis follows the hold: an open transaction would pin a pooled connection."""
    from scaispeak.platform.accounting import service as accounting
    from scaispeak.platform.auth.models import Role
    from scaispeak.platform.auth.principal import Principal

    if budgeted:
        await set_budget(live, limit=10 * COST)
    me = Principal(live.tenancy.member_a_user, live.tenancy.tenant_a, Role.member)
    async with live.app.state.platform.db.sessions() as session:
        await accounting.reserve(session, me, COST)
        assert not session.in_transaction()


async def test_no_budget_is_told_apart_from_no_such_tenant(live: LiveApp) -> None:
    """Both were a 404 "This tenant has no budget", so a superadmin could not tell a
    tenant that is not limited from an id that names none (helper-76)."""
    root = live.auth(live.tenancy.superadmin)
    unlimited = await live.client.get(f"/v1/tenants/{live.tenancy.tenant_b}/budget", headers=root)
    assert_problem(unlimited, 404, "no_budget")
    missing = await live.client.get("/v1/tenants/ten_nope/budget", headers=root)
    assert_problem(missing, 404, "not_found")
    other = await live.client.get(
        f"/v1/tenants/{live.tenancy.tenant_b}/budget", headers=live.auth(live.tenancy.admin_a)
    )
    assert_problem(other, 404, "not_found")  # another tenant's: existence not revealed
