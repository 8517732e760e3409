"""Voice intake with recorded consent: a cloned voice is created only when verified.

The challenge must be the caller's, unused and unexpired; both clips pass preflight;
Whisper hears the statement (rule in ``statement.py``); Resemblyzer says the consent
voice is the reference voice. Every step is an audit entry. A rejection stores nothing
but those entries and answers 422 with the full report. An accepted clone keeps the
reference audio (16-bit WAV) and only a SHA-256 of the consent recording, and starts
building its embedding. (Signed-document consent: ``document_intake.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import new_id, utcnow
from scaispeak.platform.errors import BadRequest, Forbidden
from scaispeak.speak.voices import audit, blobs
from scaispeak.speak.voices.consent import caller_challenge, challenge_problem
from scaispeak.speak.voices.editing import check_language
from scaispeak.speak.voices.errors import IntakeRejected
from scaispeak.speak.voices.lifecycle import reference_wav
from scaispeak.speak.voices.models import (
    Consent,
    ConsentChallenge,
    ConsentKind,
    ConsentState,
    Voice,
    VoiceScope,
    VoiceStatus,
)
from scaispeak.speak.voices.runtime import VoicesRuntime
from scaispeak.speak.voices.verification import ConsentVerification, verify_consent

CLONE_ENGINE = "clone"
"""The engine every cloned voice runs on; its engine voice is the voice's own id."""


@dataclass(frozen=True)
class NewVoice:
    name: str
    scope: VoiceScope
    language: str
    description: str = ""


def check_scope(principal: Principal, scope: VoiceScope) -> None:
    if scope is VoiceScope.global_:
        raise BadRequest("Cloned voices are user or tenant voices; global voices need a licence.")
    if scope is VoiceScope.tenant and not principal.is_admin_of(principal.tenant_id):
        raise Forbidden("Only a tenant admin creates tenant voices.")


def new_cloned_voice(
    principal: Principal, spec: NewVoice, status: VoiceStatus, reason: str
) -> Voice:
    voice_id = new_id("voc")
    return Voice(
        id=voice_id,
        scope=spec.scope,
        tenant_id=principal.tenant_id,
        owner_user_id=principal.user_id,
        name=spec.name,
        description=spec.description,
        language=check_language(spec.language),
        tags=["cloned"],
        engine=CLONE_ENGINE,
        engine_voice=voice_id,
        status=status,
        status_reason=reason,
        reference_blob=blobs.reference_key(voice_id),
        usage_count=0,
        licence=None,  # loaded, so the voice can be serialised after its session ends
    )


async def commit_or_forget(
    session: AsyncSession, rt: VoicesRuntime, keys: list[str | None]
) -> None:
    """Commit; if that fails, the blobs written for the new voice go too."""
    try:
        await session.commit()
    except BaseException:
        await blobs.delete_blobs(rt.storage, keys)
        raise


async def clone_voice(
    session: AsyncSession,
    rt: VoicesRuntime,
    principal: Principal,
    spec: NewVoice,
    challenge_id: str,
    reference: bytes,
    consent: bytes,
) -> Voice:
    check_scope(principal, spec.scope)
    check_language(spec.language)
    challenge = await caller_challenge(session, principal, challenge_id)
    chain = audit.chain_for(principal.tenant_id)
    problem = challenge_problem(challenge)
    if problem:
        report = {"passed": False, "challenge": {"status": "fail", "hint": problem}}
        await _reject(session, chain, principal, challenge.id, report, problem)
    result = await rt.analysis.run(
        verify_consent, reference, consent, challenge.statement, challenge.phrase, rt.settings
    )
    evidence = {
        "reference_sha256": audit.fingerprint(reference),
        "consent_sha256": audit.fingerprint(consent),
    }
    for action, details in result.audit_steps():
        details.update(challenge_id=challenge.id, **evidence)
        await audit.append(session, chain, principal.user_id, action, details=details)
    if not result.passed:
        report = {"passed": False, "challenge": {"status": "pass", "hint": ""}, **result.as_dict()}
        detail = "Intake rejected; failed: " + ", ".join(result.failed_checks()) + "."
        await _reject(session, chain, principal, challenge.id, report, detail)
    voice = await _accept(session, rt, principal, spec, challenge, result, evidence)
    rt.builder.kick()
    return voice


async def _accept(
    session: AsyncSession,
    rt: VoicesRuntime,
    principal: Principal,
    spec: NewVoice,
    challenge: ConsentChallenge,
    result: ConsentVerification,
    evidence: dict[str, str],
) -> Voice:
    """Keep the reference, record the consent, consume the challenge: one commit."""
    audio, statement, speaker = result.reference.audio, result.statement, result.speaker
    assert audio is not None and statement is not None and speaker is not None
    voice = new_cloned_voice(principal, spec, VoiceStatus.processing, "building the voice")
    await rt.storage.put_bytes(voice.reference_blob or "", reference_wav(audio.pcm, audio.rate))
    session.add(voice)
    session.add(
        Consent(
            voice_id=voice.id,
            tenant_id=principal.tenant_id,
            kind=ConsentKind.recording,
            state=ConsentState.active,
            speaker_name=challenge.speaker_name,
            challenge_id=challenge.id,
            statement=challenge.statement,
            transcript=statement.transcript,
            speaker_score=speaker.score,
            evidence_sha256=evidence["consent_sha256"],
            created_by=principal.user_id,
        )
    )
    challenge.used_at, challenge.voice_id = utcnow(), voice.id
    await session.flush()
    details = {"challenge_id": challenge.id, "scope": spec.scope.value, **evidence}
    chain = audit.chain_for(principal.tenant_id)
    await audit.append(
        session, chain, principal.user_id, "clone_accepted", voice_id=voice.id, details=details
    )
    await commit_or_forget(session, rt, [voice.reference_blob])
    return voice


async def _reject(
    session: AsyncSession,
    chain: str,
    principal: Principal,
    challenge_id: str,
    report: dict[str, Any],
    detail: str,
) -> None:
    """Keep the audit entries, nothing else, and answer 422 with the whole report."""
    details = {"challenge_id": challenge_id, "reason": detail}
    await audit.append(session, chain, principal.user_id, "clone_rejected", details=details)
    await session.commit()
    raise IntakeRejected(detail, report)
