"""Consent intake refuses our own synthetic speech, over the HTTP API, and audits it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import soxr
from sqlalchemy import select

from scaispeak.speak.synthesis.audio import encode
from scaispeak.speak.voices.models import AuditEntry
from tests.platform.test_auth import assert_problem
from tests.speak.provenance.conftest import decoded, opus
from tests.speak.voices.conftest import Clips, VoiceApp, auth, issue_challenge, post_clone
from tests.speak.voices.test_preflight import preflight

SPEAK = "/v1/modules/scaispeak/speak"
PIPER = "voc_piper_en-us-joe-medium"


async def synthetic_reading(app: VoiceApp, key: str, statement: str) -> bytes:
    """Joe reading the consent statement, made by the service (so it is watermarked)."""
    body = {"text": statement, "voice_id": PIPER, "format": "wav"}
    response = await app.client.post(SPEAK, json=body, headers=auth(key))
    assert response.status_code == 200, response.text
    return response.content


def synthetic_check(clip_report: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in clip_report["checks"] if c["name"] == "synthetic")


async def audit_actions(app: VoiceApp) -> list[str]:
    async with app.app.state.platform.db.sessions() as session:
        rows = await session.execute(select(AuditEntry.action).order_by(AuditEntry.id))
        return list(rows.scalars())


async def test_consent_read_by_our_own_synthesis_is_rejected_and_audited(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    app, key = sqlite_voice_app, sqlite_voice_app.tenancy.member_a
    challenge = await issue_challenge(app, key)
    fake = await synthetic_reading(app, key, challenge["statement"])
    response = await post_clone(
        app, key, clips.wav(clips.reference), fake, challenge_id=challenge["id"]
    )
    assert_problem(response, 422, "voice_intake_rejected")
    body = response.json()
    assert "consent.synthetic" in body["detail"]
    check = synthetic_check(body["report"]["consent"])
    assert check["status"] == "fail" and "watermark" in check["hint"]
    assert synthetic_check(body["report"]["reference"])["status"] == "pass"
    actions = await audit_actions(app)
    assert "synthetic_audio_rejected" in actions and actions[-1] == "clone_rejected"


async def test_a_re_encoded_replay_is_rejected_too(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    """Opus can lower Perth's score into the suspect band; the fingerprint of the clip
    made since the challenge was issued settles it."""
    app, key = sqlite_voice_app, sqlite_voice_app.tenancy.member_a
    challenge = await issue_challenge(app, key)
    fake = await synthetic_reading(app, key, challenge["statement"])
    pcm, rate = opus(*decoded(fake))
    response = await post_clone(
        app, key, clips.wav(clips.reference), encode(pcm, rate, "wav"), challenge_id=challenge["id"]
    )
    assert_problem(response, 422, "voice_intake_rejected")
    assert synthetic_check(response.json()["report"]["consent"])["status"] == "fail"


@pytest.mark.parametrize("speed", [1.03, 0.95])
async def test_our_speech_at_another_speed_is_refused_as_consent(
    sqlite_voice_app: VoiceApp, clips: Clips, speed: float
) -> None:
    """Resampled by 3 % and played at its old rate, our reading lost its watermark
    (score 0.02 to 0.06) and matched no fingerprint (BER 0.45): a clone was accepted
    with our own speech as the person's consent (helper-82)."""
    app, key = sqlite_voice_app, sqlite_voice_app.tenancy.member_a
    challenge = await issue_challenge(app, key)
    pcm, rate = decoded(await synthetic_reading(app, key, challenge["statement"]))
    sped = soxr.resample(pcm, rate, rate / speed).astype(np.float32)
    response = await post_clone(
        app,
        key,
        clips.wav(clips.reference),
        encode(sped, rate, "wav"),
        challenge_id=challenge["id"],
    )
    assert_problem(response, 422, "voice_intake_rejected")
    assert synthetic_check(response.json()["report"]["consent"])["status"] == "fail"


async def test_our_unmarked_speech_is_refused_by_its_fingerprint(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    """A tenant that turns off the marking of stock voices got their speech accepted as
    a person's consent: its score passed, and only a suspect score was looked up
    (helper-67)."""
    app, key = sqlite_voice_app, sqlite_voice_app.tenancy.member_a
    policy = "/v1/modules/scaispeak/provenance/policy"
    unmarked = {"watermark_stock_voices": False}
    turned_off = await app.client.put(policy, json=unmarked, headers=auth(app.tenancy.admin_a))
    assert turned_off.status_code == 200, turned_off.text
    challenge = await issue_challenge(app, key)
    fake = await synthetic_reading(app, key, challenge["statement"])
    response = await post_clone(
        app, key, clips.wav(clips.reference), fake, challenge_id=challenge["id"]
    )
    assert_problem(response, 422, "voice_intake_rejected")
    check = synthetic_check(response.json()["report"]["consent"])
    assert check["status"] == "fail" and check["value"] < 0.5  # unmarked, caught by its print


async def test_the_same_statement_spoken_without_the_service_passes_the_check(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    """The genuine reading (joe's engine output, never through the service) is accepted."""
    app, key = sqlite_voice_app, sqlite_voice_app.tenancy.member_a
    response = await post_clone(app, key, clips.wav(clips.reference), clips.wav(clips.genuine))
    assert response.status_code == 202, response.text


def suspect_clip(pcm: Any, rate: int) -> Any:
    """A consent clip whose watermark score fell in the suspect band (set directly)."""
    from scaispeak.speak.voices.audio_input import DecodedAudio
    from scaispeak.speak.voices.preflight import Check, CheckStatus, ClipKind, PreflightReport
    from scaispeak.speak.voices.verification import ClipResult

    check = Check("synthetic", CheckStatus.warn, 0.7, "score", "suspect")
    report = PreflightReport(ClipKind.consent, pcm.size / rate, rate, "wav", "pcm", (check,))
    return ClipResult(ClipKind.consent, DecodedAudio(pcm, rate, "wav", "pcm", 1), report)


async def test_a_suspect_clip_fails_only_when_it_matches_a_clip_the_service_made(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    from scaispeak.speak.voices.intake import refuse_replay

    app, key = sqlite_voice_app, sqlite_voice_app.tenancy.member_b  # another tenant made it
    made = await synthetic_reading(app, key, "A sentence the service really spoke, once.")
    replayed = suspect_clip(*opus(*decoded(made)))
    stranger = suspect_clip(clips.genuine, clips.rate)
    async with app.app.state.platform.db.sessions() as session:
        caught = await refuse_replay(session, replayed, None)
        spared = await refuse_replay(session, stranger, None)
    assert caught.report is not None and caught.report.checks[0].status == "fail"
    assert spared.report is not None and spared.report.checks[0].status == "warn"


async def test_a_document_intake_with_our_speech_as_reference_is_rejected_and_audited(
    sqlite_voice_app: VoiceApp,
) -> None:
    from tests.speak.voices.conftest import REFERENCE_TEXT, VOICES, unique
    from tests.speak.voices.test_global_voices import PDF

    app, key = sqlite_voice_app, sqlite_voice_app.tenancy.admin_a
    fake = await synthetic_reading(app, key, REFERENCE_TEXT)
    response = await app.client.post(
        f"{VOICES}/clone/document",
        headers=auth(key),
        data={"speaker_name": "Dana Studio", "name": unique("studio voice")},
        files={
            "reference": ("take.wav", fake, "audio/wav"),
            "document": ("consent.pdf", PDF, "application/pdf"),
        },
    )
    assert_problem(response, 422, "voice_intake_rejected")
    assert synthetic_check(response.json()["report"]["reference"])["status"] == "fail"
    actions = await audit_actions(app)
    assert actions[-2:] == ["document_intake_rejected", "synthetic_audio_rejected"]


def float_wav(pcm: Any, rate: int) -> bytes:
    import io

    import soundfile

    out = io.BytesIO()
    soundfile.write(out, pcm, rate, format="WAV", subtype="FLOAT")
    return out.getvalue()


async def test_infinite_samples_do_not_hide_our_watermark(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    """Ten +inf samples in a float WAV made every score computed from the clip NaN,
    and the watermark check then failed open: preflight said "pass", and a replay of
    our own speech was accepted as a signed document's reference."""
    app, key = sqlite_voice_app, sqlite_voice_app.tenancy.member_a
    made = await synthetic_reading(app, key, "A clip this service made, " * 8)
    pcm, rate = decoded(made)
    spiked = pcm.copy()
    spiked[:: pcm.size // 10][:10] = np.inf
    report = await preflight(app, float_wav(spiked, rate))
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["synthetic"]["status"] == "fail", checks["synthetic"]
    assert report["passed"] is False
    assert all(c["value"] is not None or c["status"] != "pass" for c in checks.values())
