"""Global voices are the superadmin's, each with a licence; outside its window, 451."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from scaispeak.speak.voices import audit
from scaispeak.speak.voices.models import AuditEntry, Licence, Voice, VoiceStatus
from scaispeak.speak.voices.seed import seed_global_voices
from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem
from tests.speak.voices.conftest import VOICES, Clips, VoiceApp, auth, plant_voice, unique

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def licensed_voice(**licence: Any) -> dict[str, Any]:
    return {
        "name": unique("Licensed narrator"),
        "language": "de-DE",  # not English: the shared library's English counts stay put
        "engine": "piper",
        "engine_voice": "en_US-joe-medium",
        "tags": ["licensed"],
        "licence": {"licensor": "Studio Nord", "terms": "Broadcast use", **licence},
    }


@asynccontextmanager
async def global_voice(app: VoiceApp, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """Created for one test and removed after it (PostgreSQL is shared by the session)."""
    root = auth(app.tenancy.superadmin)
    created = await app.client.post(f"{VOICES}/global", json=body, headers=root)
    assert created.status_code == 201, created.text
    try:
        yield created.json()
    finally:
        await app.client.delete(f"{VOICES}/{created.json()['id']}", headers=root)


async def test_superadmin_creates_a_licensed_global_voice_everyone_may_use(
    voice_app: VoiceApp,
) -> None:
    t = voice_app.tenancy
    async with global_voice(voice_app, licensed_voice()) as voice:
        assert voice["scope"] == "global" and voice["licence"]["licensor"] == "Studio Nord"
        for key in (t.member_a, t.member_b):
            seen = await voice_app.client.get(f"{VOICES}/{voice['id']}", headers=auth(key))
            assert seen.status_code == 200
        spoken = await voice_app.client.post(
            "/v1/modules/scaispeak/speak",
            json={"text": "Licensed.", "voice_id": voice["id"]},
            headers=auth(t.member_b),
        )
        assert spoken.status_code == 200, spoken.text


async def test_only_superadmins_create_or_change_global_voices(voice_app: VoiceApp) -> None:
    t = voice_app.tenancy
    for key in (t.admin_a, t.member_a):
        made = await voice_app.client.post(
            f"{VOICES}/global", json=licensed_voice(), headers=auth(key)
        )
        assert_problem(made, 403, "forbidden")
        changed = await voice_app.client.patch(
            f"{VOICES}/global/voc_piper_en-us-joe-medium", json={"name": "x"}, headers=auth(key)
        )
        assert_problem(changed, 403, "forbidden")


async def test_a_closed_licence_window_blocks_synthesis_with_451(voice_app: VoiceApp) -> None:
    t = voice_app.tenancy
    async with global_voice(voice_app, licensed_voice()) as voice:
        past = datetime.now(UTC) - timedelta(days=1)
        closed = await voice_app.client.patch(
            f"{VOICES}/global/{voice['id']}",
            json={"licence": {"valid_until": past.isoformat()}},
            headers=auth(t.superadmin),
        )
        assert closed.status_code == 200, closed.text
        spoken = await voice_app.client.post(
            "/v1/modules/scaispeak/speak",
            json={"text": "Expired.", "voice_id": voice["id"]},
            headers=auth(t.member_a),
        )
        assert_problem(spoken, 451, "voice_licence_expired")


async def test_an_engine_key_speaks_with_the_stock_voice_not_a_later_licensed_one(
    voice_app: VoiceApp,
) -> None:
    """Two global voices on one engine voice: the key must always pick the same one,
    the stock voice, here the one whose licence is open."""
    t = voice_app.tenancy
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    async with global_voice(voice_app, licensed_voice(valid_until=past)):
        spoken = await voice_app.client.post(
            "/v1/modules/scaispeak/speak",
            json={"text": "Which one?", "voice_id": "en_US-joe-medium"},
            headers=auth(t.member_a),
        )
        assert spoken.status_code == 200, spoken.text


async def test_licence_proof_is_stored_and_only_documents_are_accepted(
    voice_app: VoiceApp,
) -> None:
    root = auth(voice_app.tenancy.superadmin)
    async with global_voice(voice_app, licensed_voice()) as voice:
        url = f"{VOICES}/global/{voice['id']}/licence/proof"
        bad = await voice_app.client.put(
            url, files={"document": ("x.txt", b"just text", "text/plain")}, headers=root
        )
        assert_problem(bad, 422, "unsupported_document")
        put = await voice_app.client.put(
            url, files={"document": ("licence.pdf", PDF, "application/pdf")}, headers=root
        )
        assert put.status_code == 200 and put.json()["licence"]["has_proof"] is True
        got = await voice_app.client.get(url, headers=root)
        assert got.content == PDF and got.headers["content-type"] == "application/pdf"
        member = await voice_app.client.get(url, headers=auth(voice_app.tenancy.member_a))
        assert_problem(member, 403, "forbidden")


async def test_global_voice_on_an_unknown_engine_voice_is_refused(voice_app: VoiceApp) -> None:
    body = {**licensed_voice(), "engine_voice": "no-such-voice"}
    made = await voice_app.client.post(
        f"{VOICES}/global", json=body, headers=auth(voice_app.tenancy.superadmin)
    )
    assert_problem(made, 400, "bad_request")


async def test_a_tenants_cloned_voice_cannot_be_made_a_global_voice(
    voice_app: VoiceApp, clips: Clips
) -> None:
    """The clone engine lists no voices, which let any id through: a global voice on a
    member's private clone spoke it for every tenant, past its consent and scope."""
    t = voice_app.tenancy
    private = await plant_voice(
        voice_app, clips, tenant_id=t.tenant_a, owner=t.member_a_user, scope="user"
    )
    body = {**licensed_voice(), "engine": "clone", "engine_voice": private}
    made = await voice_app.client.post(f"{VOICES}/global", json=body, headers=auth(t.superadmin))
    assert_problem(made, 400, "bad_request")
    assert "consent" in made.json()["detail"]
    # One made before the refusal existed (the row as the old endpoint left it) is
    # never spoken: another tenant's request for it is refused.
    stock = await voice_app.client.post(
        f"{VOICES}/global", json=licensed_voice(), headers=auth(t.superadmin)
    )
    async with voice_app.app.state.platform.db.sessions() as session:
        await session.execute(
            update(Voice)
            .where(Voice.id == stock.json()["id"])
            .values(
                engine="clone",
                engine_voice=private,
                status=VoiceStatus.evicted,  # refused before a rebuild is queued for it
                reference_blob=f"voices/{private}/reference.wav",
            )
        )
        await session.commit()
    spoken = await voice_app.client.post(
        "/v1/modules/scaispeak/speak",
        json={"text": "Hello there.", "voice_id": stock.json()["id"]},
        headers=auth(t.member_b),
    )
    assert_problem(spoken, 409, "voice_unavailable")
    async with voice_app.app.state.platform.db.sessions() as session:
        row = await session.get(Voice, stock.json()["id"])
    assert row is not None and row.status is VoiceStatus.evicted


async def test_patching_one_bound_of_the_licence_window_checks_it_against_the_stored_one(
    voice_app: VoiceApp,
) -> None:
    """SQLite hands back the stored bound without a time zone; the new one has one."""
    root = auth(voice_app.tenancy.superadmin)
    starts = datetime(2024, 1, 1, tzinfo=UTC)
    async with global_voice(voice_app, licensed_voice(valid_from=starts.isoformat())) as voice:
        url = f"{VOICES}/global/{voice['id']}"
        later = {"licence": {"valid_until": datetime(2030, 1, 1, tzinfo=UTC).isoformat()}}
        extended = await voice_app.client.patch(url, json=later, headers=root)
        assert extended.status_code == 200, extended.text
        assert extended.json()["licence"]["valid_until"].startswith("2030-01-01")
        earlier = {"licence": {"valid_until": (starts - timedelta(days=1)).isoformat()}}
        backwards = await voice_app.client.patch(url, json=earlier, headers=root)
        assert_problem(backwards, 400, "bad_request")


async def test_a_superadmins_takedown_and_edits_of_stock_voices_outlast_a_restart(
    sqlite_app: LiveApp,
) -> None:
    """Seeding runs at every start; it used to bring a deleted stock voice back and
    overwrite a curated one's name. (SQLite: the shared PostgreSQL keeps its voices.)"""
    app, root = sqlite_app, auth(sqlite_app.tenancy.superadmin)
    listed = await app.client.get(VOICES, params={"scope": "global"}, headers=root)
    taken_down, curated = [v["id"] for v in listed.json()["items"][:2]]
    assert (await app.client.delete(f"{VOICES}/{taken_down}", headers=root)).status_code == 204
    renamed = await app.client.patch(f"{VOICES}/{curated}", json={"name": "Curated"}, headers=root)
    assert renamed.status_code == 200, renamed.text
    async with app.app.state.platform.db.sessions() as session:
        await seed_global_voices(session, app.app.state.speak.engines)  # as at a restart
    gone = await app.client.get(f"{VOICES}/{taken_down}", headers=root)
    assert_problem(gone, 404, "unknown_voice")
    kept = await app.client.get(f"{VOICES}/{curated}", headers=root)
    assert kept.json()["name"] == "Curated"
    chain = await app.client.get(f"{VOICES}/audit/verify", headers=root)
    assert chain.json()["intact"] and chain.json()["entries"] == 2  # the edit is audited too


async def test_the_audit_trail_keeps_each_licence_as_it_stood_and_every_proof(
    voice_app: VoiceApp,
) -> None:
    """The licence row changes in place, and a new proof overwrote the old one: what
    terms applied before a change, and under which signed document, was lost."""
    root = auth(voice_app.tenancy.superadmin)
    async with global_voice(voice_app, licensed_voice()) as voice:
        url = f"{VOICES}/global/{voice['id']}"
        changed = {"licence": {"terms": "Internal use only"}}
        assert (await voice_app.client.patch(url, json=changed, headers=root)).status_code == 200
        proofs = [PDF, PDF + b"\n% signed again\n"]
        for proof in proofs:
            files = {"document": ("licence.pdf", proof, "application/pdf")}
            put = await voice_app.client.put(f"{url}/licence/proof", files=files, headers=root)
            assert put.status_code == 200, put.text
        async with voice_app.app.state.platform.db.sessions() as session:
            rows = await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.chain == audit.GLOBAL_CHAIN, AuditEntry.voice_id == voice["id"])
                .order_by(AuditEntry.seq)
            )
            entries = list(rows)
        terms = [e.details.get("terms") for e in entries if "terms" in e.details]
        assert terms == ["Broadcast use", "Internal use only"]
        stored = [e.details["blob"] for e in entries if e.action == "licence_proof_attached"]
        assert len(set(stored)) == 2
        for key, proof in zip(stored, proofs, strict=True):
            assert await voice_app.storage.get(key) == proof
        got = await voice_app.client.get(f"{url}/licence/proof", headers=root)
        assert got.content == proofs[-1]
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert got.headers["Content-Security-Policy"].startswith("sandbox")


async def test_a_stock_licence_the_package_restates_is_audited_once(sqlite_app: LiveApp) -> None:
    app = sqlite_app
    async with app.app.state.platform.db.sessions() as session:
        licence = (await session.scalars(select(Licence).limit(1))).one()
        stated, licence.terms = licence.terms, "terms of an older release"
        await session.commit()
        for _ in range(2):  # two restarts: the second finds nothing to change
            await seed_global_voices(session, app.app.state.speak.engines)
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "licence_reseeded")
        )
        [entry] = list(rows)
    assert entry.details["licence_id"] == licence.id and entry.details["terms"] == stated


async def test_an_empty_patch_of_a_stock_voice_changes_nothing_and_leaves_it_to_seeding(
    sqlite_app: LiveApp,
) -> None:
    """It wrote an audit entry with no fields, and seeding then left the voice as a
    superadmin had "edited" it, against every later package update."""
    app, root = sqlite_app, auth(sqlite_app.tenancy.superadmin)
    listed = await app.client.get(VOICES, params={"scope": "global"}, headers=root)
    stock = listed.json()["items"][0]["id"]
    for url in (f"{VOICES}/{stock}", f"{VOICES}/global/{stock}"):
        empty = await app.client.patch(url, json={}, headers=root)
        assert empty.status_code == 200, empty.text
    chain = await app.client.get(f"{VOICES}/audit/verify", headers=root)
    assert chain.json()["entries"] == 0


async def test_listings_say_a_licence_has_its_proof_as_get_does(voice_app: VoiceApp) -> None:
    root = auth(voice_app.tenancy.superadmin)
    async with global_voice(voice_app, licensed_voice()) as voice:
        url = f"{VOICES}/global/{voice['id']}/licence/proof"
        put = await voice_app.client.put(
            url, files={"document": ("licence.pdf", PDF, "application/pdf")}, headers=root
        )
        assert put.status_code == 200
        listed = await voice_app.client.get(
            VOICES, params={"scope": "global", "limit": 500}, headers=root
        )
        found = [v for v in listed.json()["items"] if v["id"] == voice["id"]]
        assert found and found[0]["licence"]["has_proof"] is True


async def test_a_licence_cannot_lose_its_licensor(voice_app: VoiceApp) -> None:
    root = auth(voice_app.tenancy.superadmin)
    async with global_voice(voice_app, licensed_voice()) as voice:
        blanked = await voice_app.client.patch(
            f"{VOICES}/global/{voice['id']}", json={"licence": {"licensor": " "}}, headers=root
        )
        assert_problem(blanked, 422, "validation_error")
