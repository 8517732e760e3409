"""The audit trail is a hash chain: any edited or removed entry is found."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import delete, select, update

from scaispeak.speak.voices.models import AuditEntry
from tests.platform.test_auth import assert_problem
from tests.speak.voices.conftest import VOICES, VoiceApp, auth, issue_challenge

VERIFY = f"{VOICES}/audit/verify"


async def make_entries(app: VoiceApp, count: int) -> None:
    for _ in range(count):
        await issue_challenge(app, app.tenancy.member_a)


async def verify(app: VoiceApp, key: str, chain: str | None = None) -> dict[str, object]:
    params = {"chain": chain} if chain else {}
    response = await app.client.get(VERIFY, params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_untouched_chain_verifies(voice_app: VoiceApp) -> None:
    await make_entries(voice_app, 3)
    report = await verify(voice_app, voice_app.tenancy.admin_a)
    assert report["intact"] is True and report["entries"] == 3
    assert report["chain"] == voice_app.tenancy.tenant_a


async def test_an_edited_entry_is_detected(voice_app: VoiceApp) -> None:
    await make_entries(voice_app, 3)
    chain = voice_app.tenancy.tenant_a
    async with voice_app.app.state.platform.db.sessions() as session:
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == chain, AuditEntry.seq == 2)
            .values(details={"challenge_id": "chl_forged", "speaker_name": "Someone Else"})
        )
        await session.commit()
    report = await verify(voice_app, voice_app.tenancy.admin_a)
    assert report["intact"] is False and report["first_bad_seq"] == 2
    assert "altered" in str(report["problem"])


async def test_a_rehashed_edit_still_breaks_the_next_link(voice_app: VoiceApp) -> None:
    """Recomputing the edited entry's own hash does not help: the next entry names the old one."""
    from scaispeak.speak.voices.audit import entry_digest

    await make_entries(voice_app, 3)
    chain = voice_app.tenancy.tenant_a
    async with voice_app.app.state.platform.db.sessions() as session:
        stmt = select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == 2)
        entry = (await session.execute(stmt)).scalar_one()
        entry.actor_id = "usr_somebody_else"
        entry.entry_hash = entry_digest(entry)
        await session.commit()
    report = await verify(voice_app, voice_app.tenancy.admin_a)
    assert report["intact"] is False and report["first_bad_seq"] == 3


async def test_a_removed_entry_is_detected(voice_app: VoiceApp) -> None:
    await make_entries(voice_app, 3)
    chain = voice_app.tenancy.tenant_a
    async with voice_app.app.state.platform.db.sessions() as session:
        await session.execute(
            delete(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == 2)
        )
        await session.commit()
    report = await verify(voice_app, voice_app.tenancy.admin_a)
    assert report["intact"] is False and "missing" in str(report["problem"])


async def test_only_admins_verify_and_only_their_own_tenants_chain(voice_app: VoiceApp) -> None:
    t = voice_app.tenancy
    member = await voice_app.client.get(VERIFY, headers=auth(t.member_a))
    assert_problem(member, 403, "forbidden")
    other = await voice_app.client.get(
        VERIFY, params={"chain": t.tenant_b}, headers=auth(t.admin_a)
    )
    assert_problem(other, 403, "forbidden")
    root = await verify(voice_app, t.superadmin, t.tenant_a)
    assert root["chain"] == t.tenant_a
    # A misspelt chain had no entries, and "verified" as intact.
    typo = await voice_app.client.get(
        VERIFY, params={"chain": t.tenant_a + "x"}, headers=auth(t.superadmin)
    )
    assert_problem(typo, 404, "not_found")


async def test_cli_verify_audit_exits_1_on_a_broken_chain(
    sqlite_voice_app: VoiceApp, capsys: pytest.CaptureFixture[str]
) -> None:
    from scaispeak.cli import main

    app = sqlite_voice_app
    await make_entries(app, 2)
    data_dir = str(app.app.state.platform.settings.data_dir)
    assert await asyncio.to_thread(main, ["--data-dir", data_dir, "admin", "verify-audit"]) == 0
    async with app.app.state.platform.db.sessions() as session:
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == app.tenancy.tenant_a, AuditEntry.seq == 1)
            .values(action="something_else")
        )
        await session.commit()
    chain = ["--chain", app.tenancy.tenant_a]
    code = await asyncio.to_thread(main, ["--data-dir", data_dir, "admin", "verify-audit", *chain])
    assert code == 1 and "BROKEN at entry 1" in capsys.readouterr().out


async def test_concurrent_appends_to_one_chain_all_land_in_order(voice_app: VoiceApp) -> None:
    """Each writer holds its transaction open a moment, as intake does between its
    entries and its commit; the others queue instead of claiming the same seq."""
    from scaispeak.speak.voices import audit

    chain = f"ten_concurrent_{uuid.uuid4().hex[:8]}"
    db = voice_app.app.state.platform.db

    async def append_and_hold(n: int) -> None:
        async with db.sessions() as session:
            await audit.append(session, chain, "usr_test", "test_entry", details={"n": n})
            await asyncio.sleep(0.05)
            await session.commit()

    await asyncio.gather(*(append_and_hold(n) for n in range(8)))
    async with db.sessions() as session:
        report = await audit.verify_chain(session, chain)
    assert report.intact and report.entries == 8


async def test_an_append_reads_only_the_chains_head(voice_app: VoiceApp) -> None:
    """The head query had no LIMIT: the drivers fetched every entry of the tenant's
    chain (200,000 took 4.5 s and 400 MiB) on each append, under the chain's lock."""
    from sqlalchemy import event

    from scaispeak.speak.voices import audit

    chain = f"ten_head_{uuid.uuid4().hex[:8]}"
    db = voice_app.app.state.platform.db
    selects: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "voice_audit" in statement:
            selects.append(statement)

    async with db.sessions() as session:
        for n in range(3):
            await audit.append(session, chain, "usr_test", "test_entry", details={"n": n})
        event.listen(db.engine.sync_engine, "before_cursor_execute", record)
        try:
            await audit.append(session, chain, "usr_test", "test_entry", details={"n": 3})
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        await session.commit()
        report = await audit.verify_chain(session, chain)
    assert report.intact and report.entries == 4
    assert selects and all("LIMIT" in statement.upper() for statement in selects)


async def test_a_chain_is_verified_page_by_page(
    voice_app: VoiceApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scaispeak.speak.voices import audit

    monkeypatch.setattr(audit, "_VERIFY_PAGE", 3)
    chain = f"ten_paged_{uuid.uuid4().hex[:8]}"
    db = voice_app.app.state.platform.db
    async with db.sessions() as session:
        for n in range(10):
            await audit.append(session, chain, "usr_test", "test_entry", details={"n": n})
        await session.commit()
        assert (await audit.verify_chain(session, chain)).entries == 10
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == chain, AuditEntry.seq == 8)
            .values(actor_id="usr_forger")
        )
        await session.commit()
        report = await audit.verify_chain(session, chain)
    assert not report.intact and report.entries == 8
