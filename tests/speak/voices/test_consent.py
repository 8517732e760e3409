"""Cloning needs verified consent: the right statement, in the reference speaker's voice."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from scaispeak.platform.db import utcnow
from scaispeak.platform.storage.base import StorageUnavailable
from scaispeak.settings import VoicesSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.voices import endpoints
from scaispeak.speak.voices.consent import CHALLENGE_MAX_ATTEMPTS
from scaispeak.speak.voices.models import AuditEntry, Consent, ConsentChallenge, Voice
from tests.conftest import make_settings
from tests.platform.test_auth import assert_problem
from tests.speak.voices.conftest import (
    PHRASE,
    SPEAKER,
    VOICES,
    Clips,
    FakeFitter,
    Impostor,
    VoiceApp,
    auth,
    issue_challenge,
    plant_voice,
    post_clone,
    voice_app_for,
)


async def count_rows(app: VoiceApp, model: type, **where: str) -> int:
    async with app.app.state.platform.db.sessions() as session:
        stmt = select(func.count()).select_from(model)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        return int((await session.execute(stmt)).scalar_one())


async def test_challenge_names_speaker_platform_and_a_one_time_phrase(
    voice_app: VoiceApp,
) -> None:
    challenge = await issue_challenge(voice_app, voice_app.tenancy.member_a)
    assert SPEAKER in challenge["statement"] and "ScaiSpeak" in challenge["statement"]
    assert challenge["phrase"] == PHRASE and PHRASE in challenge["statement"]
    assert challenge["expires_at"]


async def test_genuine_consent_is_accepted_and_the_voice_builds(
    voice_app: VoiceApp, clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = voice_app.tenancy.member_a
    response = await post_clone(
        voice_app, key, clips.wav(clips.reference), clips.wav(clips.genuine)
    )
    assert response.status_code == 202, response.text
    voice = response.json()
    assert voice["status"] == "processing" and voice["engine"] == "clone"
    assert voice["scope"] == "user"
    assert response.headers["Location"] == f"{VOICES}/{voice['id']}"
    await voice_app.runtime.builder.drain()
    ready = await voice_app.client.get(response.headers["Location"], headers=auth(key))
    assert ready.json()["status"] == "ready"
    consent = await voice_app.client.get(f"{VOICES}/{voice['id']}/consent", headers=auth(key))
    trail = consent.json()
    assert trail["consent"]["state"] == "active" and trail["consent"]["speaker_score"] >= 0.92
    assert PHRASE.split()[0] in trail["consent"]["transcript"].lower()
    # The challenge's issue and the intake's checks name the challenge, not the voice
    # (it did not exist yet): the trail listed only the last two.
    assert [e["action"] for e in trail["audit"]] == [
        "consent_challenge_issued",
        "intake_preflight",
        "intake_statement",
        "intake_speaker",
        "clone_accepted",
        "voice_ready",
    ]
    speaker = next(e for e in trail["audit"] if e["action"] == "intake_speaker")
    assert speaker["details"]["consent_sha256"] == trail["consent"]["evidence_sha256"]
    # The trail comes in pages (only the oldest 500 entries were ever shown).
    monkeypatch.setattr(endpoints, "AUDIT_PAGE", 4)
    first = (await voice_app.client.get(consent.url, headers=auth(key))).json()
    rest = await voice_app.client.get(
        consent.url, params={"cursor": first["next_cursor"]}, headers=auth(key)
    )
    assert len(first["audit"]) == 4 and rest.json()["next_cursor"] is None
    assert first["audit"] + rest.json()["audit"] == trail["audit"]


# Rejections by the audio checks run on SQLite only: they test recognition and
# verification; the database side of a rejection (audit entries, nothing else) is
# the same path the expired-challenge test covers on both databases.
async def test_impostor_consent_is_rejected_and_nothing_but_audit_is_stored(
    sqlite_voice_app: VoiceApp, clips: Clips, impostor: Impostor
) -> None:
    voice_app = sqlite_voice_app
    key = voice_app.tenancy.member_a
    before = await count_rows(voice_app, Voice)
    response = await post_clone(
        voice_app,
        key,
        clips.wav(clips.reference),
        impostor.wav(),
    )
    assert_problem(response, 422, "voice_intake_rejected")
    report = response.json()["report"]
    assert report["speaker"]["passed"] is False
    assert report["speaker"]["score"] < report["speaker"]["threshold"]
    assert report["statement"]["passed"] is True, "the impostor did read the statement"
    assert await count_rows(voice_app, Voice) == before
    actions = await audit_actions(voice_app, voice_app.tenancy.tenant_a)
    steps = ["intake_preflight", "intake_statement", "intake_speaker", "clone_rejected"]
    assert actions[-4:] == steps
    blobs = voice_app.storage.root / "objects" / "voices"
    assert not blobs.exists() or not any(blobs.iterdir())


async def test_wrong_statement_is_rejected(sqlite_voice_app: VoiceApp, clips: Clips) -> None:
    response = await post_clone(
        sqlite_voice_app,
        sqlite_voice_app.tenancy.member_a,
        clips.wav(clips.reference),
        clips.wav(clips.wrong_statement),
    )
    assert_problem(response, 422, "voice_intake_rejected")
    statement = response.json()["report"]["statement"]
    assert statement["passed"] is False
    assert statement["phrase_edit_ratio"] > statement["max_phrase_edit_ratio"]
    assert response.json()["report"]["speaker"]["passed"] is True


async def test_expired_challenge_is_rejected_before_any_analysis(
    voice_app: VoiceApp, clips: Clips
) -> None:
    key = voice_app.tenancy.member_a
    challenge = await issue_challenge(voice_app, key)
    await _set_challenge(voice_app, challenge["id"], expires_at=utcnow() - timedelta(seconds=1))
    await _refused_by_the_challenge(voice_app, key, clips, challenge["id"], "expired")
    actions = await audit_actions(voice_app, voice_app.tenancy.tenant_a)
    assert actions[-1] == "clone_rejected"
    assert await count_rows(voice_app, Voice, owner_user_id=voice_app.tenancy.member_a_user) == 0


async def test_another_users_challenge_is_404(voice_app: VoiceApp, clips: Clips) -> None:
    t = voice_app.tenancy
    theirs = await issue_challenge(voice_app, t.admin_a)
    for key in (t.member_a, t.member_b):
        response = await post_clone(voice_app, key, b"RIFF", b"RIFF", challenge_id=theirs["id"])
        assert_problem(response, 404, "not_found")


async def test_member_cannot_clone_a_tenant_voice(voice_app: VoiceApp, clips: Clips) -> None:
    response = await post_clone(
        voice_app, voice_app.tenancy.member_a, b"RIFF", b"RIFF", scope="tenant"
    )
    assert_problem(response, 403, "forbidden")


async def audit_actions(app: VoiceApp, chain: str) -> list[str]:
    async with app.app.state.platform.db.sessions() as session:
        stmt = select(AuditEntry.action).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
        return list((await session.execute(stmt)).scalars())


async def test_one_challenge_sent_twice_at_once_makes_one_voice(
    voice_app: VoiceApp, clips: Clips
) -> None:
    """Both intakes find the challenge unused and verify for seconds; only one may use it."""
    key = voice_app.tenancy.member_a
    challenge = (await issue_challenge(voice_app, key))["id"]
    reference, consent = clips.wav(clips.reference), clips.wav(clips.genuine)
    responses = await asyncio.gather(
        *(post_clone(voice_app, key, reference, consent, challenge_id=challenge) for _ in "ab")
    )
    accepted = [r for r in responses if r.status_code == 202]
    refused = [r for r in responses if r.status_code != 202]
    assert len(accepted) == 1 and len(refused) == 1, [r.text for r in responses]
    assert_problem(refused[0], 409, "challenge_used")
    assert await count_rows(voice_app, Consent, challenge_id=challenge) == 1
    stored = voice_app.storage.root / "objects" / "voices"
    assert [p.name for p in stored.iterdir()] == [accepted[0].json()["id"]]
    actions = await audit_actions(voice_app, voice_app.tenancy.tenant_a)
    assert actions.count("clone_accepted") == actions.count("clone_rejected") == 1


async def test_an_intake_is_refused_while_the_tenants_new_voices_fill_the_build_queue(
    tmp_path: Path, engines: EngineRegistry, clips: Clips
) -> None:
    """Refused before any analysis (429, Retry-After); another tenant is not."""
    settings = make_settings(tmp_path, voices=VoicesSettings(builds_waiting_max_per_tenant=1))
    gate = threading.Event()  # the waiting voice's build runs until the test ends
    async with voice_app_for(settings, engines, FakeFitter(gate=gate)) as app:
        try:
            await plant_voice(
                app, clips, tenant_id=app.tenancy.tenant_a, owner=None, scope="tenant", built=False
            )
            wav = clips.wav(clips.reference)
            refused = await post_clone(app, app.tenancy.member_a, wav, wav)
            assert_problem(refused, 429, "too_many_voice_builds")
            assert refused.headers["Retry-After"] == "60"
            other = await post_clone(app, app.tenancy.member_b, wav, wav)
            assert other.status_code == 422, other.text  # analysed: a reference is no consent
        finally:
            gate.set()


async def test_an_accepted_intake_whose_reference_cannot_be_stored_keeps_its_checks(
    sqlite_voice_app: VoiceApp, clips: Clips, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks' entries (transcript, speaker score, clip digests) shared the upload's
    transaction, and a blob store that failed took them with it."""
    app = sqlite_voice_app
    challenge = await issue_challenge(app, app.tenancy.member_a)

    async def refused(key: str, data: bytes) -> None:
        raise StorageUnavailable("the bucket did not answer")

    monkeypatch.setattr(app.storage, "put_bytes", refused)
    response = await post_clone(
        app,
        app.tenancy.member_a,
        clips.wav(clips.reference),
        clips.wav(clips.genuine),
        challenge_id=challenge["id"],
    )
    assert_problem(response, 503, "storage_unavailable")
    async with app.app.state.platform.db.sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.details["challenge_id"].as_string() == challenge["id"])
                .order_by(AuditEntry.seq)
            )
        )
    assert actions[:1] == ["consent_challenge_issued"]
    assert {"intake_preflight", "intake_statement", "intake_speaker"} <= set(actions)


async def test_a_challenge_allows_a_bounded_number_of_judged_attempts(
    voice_app: VoiceApp, clips: Clips
) -> None:
    """A rejected intake did not use its challenge and nothing bounded the retries: an
    impostor could tune a splice against the speaker check for 15 minutes (helper-67)."""
    key = voice_app.tenancy.member_a
    challenge = await issue_challenge(voice_app, key)
    wrong = clips.wav(clips.wrong_statement)
    rejected = await post_clone(
        voice_app, key, clips.wav(clips.reference), wrong, challenge_id=challenge["id"]
    )
    assert_problem(rejected, 422, "voice_intake_rejected")  # judged: one attempt counted
    async with voice_app.app.state.platform.db.sessions() as session:
        row = await session.get(ConsentChallenge, challenge["id"])
        assert row is not None and row.attempts == 1
    await _set_challenge(voice_app, challenge["id"], attempts=CHALLENGE_MAX_ATTEMPTS)
    await _refused_by_the_challenge(voice_app, key, clips, challenge["id"], "attempts")


async def _set_challenge(app: VoiceApp, challenge_id: str, **values: Any) -> None:
    async with app.app.state.platform.db.sessions() as session:
        await session.execute(
            update(ConsentChallenge).where(ConsentChallenge.id == challenge_id).values(**values)
        )
        await session.commit()


async def _refused_by_the_challenge(
    app: VoiceApp, key: str, clips: Clips, challenge_id: str, why: str
) -> None:
    """A genuine intake refused before any analysis, the challenge's hint saying ``why``."""
    response = await post_clone(
        app, key, clips.wav(clips.reference), clips.wav(clips.genuine), challenge_id=challenge_id
    )
    assert_problem(response, 422, "voice_intake_rejected")
    assert response.json()["report"]["challenge"]["status"] == "fail"
    assert why in response.json()["report"]["challenge"]["hint"]
