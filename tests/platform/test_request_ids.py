"""Request ids: every request gets its own, echoed and recorded; a client's id is echoed
beside it only when short and inert, and never names the request; a settlement that
fails still gives its hold back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from scaispeak.platform.accounting.models import SpendCounter, UsageEntry
from scaispeak.platform.auth.service import authenticate_api_key
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.synthesis.batch import speak_clip
from scaispeak.speak.synthesis.service import SpeakParams
from tests.conftest import LiveApp, make_settings, started_app
from tests.platform.test_accounting import COST, JOE, SPEAK, TEXT, set_budget

FRESH_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
async def postgres_live(
    tmp_path: Path, postgres_url: str, engines: EngineRegistry
) -> AsyncIterator[LiveApp]:
    """PostgreSQL only: SQLite does not enforce String(64), so nothing fails there."""
    async with started_app(make_settings(tmp_path, postgres_url), engines) as app:
        yield app


@pytest.mark.parametrize("header", ["X-Client-Request-Id", "X-Request-Id"])
async def test_a_safe_client_request_id_is_echoed_beside_the_requests_own(
    sqlite_app: LiveApp, header: str
) -> None:
    offered = "trace-7:web.1_" + "x" * 50  # 64 characters of the allowed set
    response = await sqlite_app.client.get("/healthz", headers={header: offered})
    assert response.headers["x-client-request-id"] == offered
    assert FRESH_ID.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize(
    "offered", ["r" * 65, "has space", "<script>", "semi;colon", b"\xe9-latin-1", "a/b"]
)
async def test_an_unsafe_client_request_id_is_not_echoed(
    sqlite_app: LiveApp, offered: str | bytes
) -> None:
    response = await sqlite_app.client.get("/healthz", headers={"X-Request-Id": offered})
    assert "x-client-request-id" not in response.headers
    assert FRESH_ID.fullmatch(response.headers["x-request-id"])


async def test_a_client_cannot_give_its_clip_anothers_request_id(sqlite_app: LiveApp) -> None:
    """The ledger and the provenance record name a clip by the request's id; a client
    that sent a colleague's id must not make its clip trace to the colleague."""
    app = sqlite_app
    body = {"text": TEXT, "voice_id": JOE, "format": "wav"}
    theirs = await app.client.post(SPEAK, json=body, headers=app.auth(app.tenancy.admin_a))
    taken = theirs.headers["x-request-id"]
    headers = app.auth(app.tenancy.member_a) | {"X-Request-Id": taken}
    mine = await app.client.post(SPEAK, json=body, headers=headers)
    assert mine.status_code == 200 and mine.headers["x-request-id"] != taken
    async with app.app.state.platform.db.sessions() as session:
        lines = select(func.count()).where(UsageEntry.request_id == taken)
        assert (await session.execute(lines)).scalar_one() == 1


async def test_a_long_client_request_id_still_speaks_and_is_recorded(live: LiveApp) -> None:
    """PostgreSQL enforces the ledger's 64 characters: a longer id used to fail the
    settlement after synthesis (a 500, and a hold left until restart)."""
    await set_budget(live, limit=10 * COST)
    headers = live.auth(live.tenancy.member_a) | {"X-Request-Id": "r" * 65}
    for fmt in ("wav", "mp3"):
        body = {"text": TEXT, "voice_id": JOE, "format": fmt}
        response = await live.client.post(SPEAK, json=body, headers=headers)
        assert response.status_code == 200, response.text
        used = response.headers["x-request-id"]
        assert FRESH_ID.fullmatch(used)
        async with live.app.state.platform.db.sessions() as session:
            recorded = await session.execute(
                select(func.count()).where(UsageEntry.request_id == used)
            )
            assert recorded.scalar_one() == 1


@pytest.mark.postgres
@pytest.mark.parametrize("fmt", ["wav", "mp3"])  # settled during encoding, and after it
async def test_a_failed_settlement_releases_its_hold(postgres_live: LiveApp, fmt: str) -> None:
    live = postgres_live
    await set_budget(live, limit=10 * COST)
    platform, ctx = live.app.state.platform, live.app.state.speak
    async with platform.db.sessions() as session:
        caller = await authenticate_api_key(session, live.tenancy.member_a)
        with pytest.raises(DBAPIError):  # the ledger's request_id holds 64 characters
            await speak_clip(
                session,
                ctx,
                platform.settings,
                platform.limiter,
                caller,
                SpeakParams(TEXT, JOE, fmt),
                max_chars=1000,
                kind="speak",
                request_id="r" * 65,
            )
    async with platform.db.sessions() as session:
        counters = await session.execute(
            select(SpendCounter.reserved_micros, SpendCounter.spent_micros).where(
                SpendCounter.tenant_id == live.tenancy.tenant_a
            )
        )
        assert {tuple(row) for row in counters} == {(0, 0)}


async def test_a_bug_answers_a_500_that_carries_its_request_id(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Starlette answered an unknown error outside every middleware: no X-Request-Id to
    quote in a bug report, no access line, no metric (helper-86)."""
    from scaispeak.speak.voices import library

    async def a_bug(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(library, "get_voice", a_bug)
    path = "/v1/modules/scaispeak/voices/voc_piper_en-us-joe-medium"
    for method in ("GET", "HEAD"):
        answer = await sqlite_app.client.request(
            method, path, headers=sqlite_app.auth(sqlite_app.tenancy.member_a)
        )
        assert answer.status_code == 500
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert FRESH_ID.fullmatch(answer.headers["x-request-id"])
        assert "a bug" not in answer.text
    assert "unhandled error on" in caplog.text
    metrics = (await sqlite_app.client.get("/metrics")).text
    assert 'route="/v1/modules/scaispeak/voices/{voice_id}",status="500"' in metrics
