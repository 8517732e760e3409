"""Voice intake with recorded consent: a cloned voice is created only when verified.

The challenge must be the caller's, unused and unexpired; both clips pass preflight;
Whisper hears the statement (rule in ``statement.py``); Resemblyzer says the consent
voice is the reference voice. Every step is an audit entry. A rejection stores nothing
but those entries and answers 422 with the full report. An accepted clone keeps the
reference audio (16-bit WAV) and only a SHA-256 of the consent recording, and starts
building its embedding. (Signed-document consent: ``document_intake.py``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import new_id
from scaispeak.platform.errors import BadRequest, Forbidden
from scaispeak.speak.provenance import fingerprint as fp
from scaispeak.speak.provenance import service as provenance
from scaispeak.speak.voices import audit, blobs
from scaispeak.speak.voices.charging import MadeVoice, charged
from scaispeak.speak.voices.consent import (
    TOO_MANY_ATTEMPTS,
    caller_challenge,
    challenge_problem,
    claim_challenge,
    count_attempt,
)
from scaispeak.speak.voices.editing import check_language
from scaispeak.speak.voices.errors import (
    ChallengeUsed,
    CloningUnavailable,
    IntakeRejected,
    TooManyVoiceBuilds,
)
from scaispeak.speak.voices.lifecycle import reference_wav
from scaispeak.speak.voices.models import (
    CLONE_ENGINE,
    Consent,
    ConsentChallenge,
    ConsentKind,
    ConsentState,
    Voice,
    VoiceScope,
    VoiceStatus,
)
from scaispeak.speak.voices.preflight import SYNTHETIC_HINT, CheckStatus
from scaispeak.speak.voices.runtime import VoicesRuntime
from scaispeak.speak.voices.verification import ClipResult, ConsentVerification, verify_consent

REPLAY_LOOKBACK = 2_000
"""Most recent clips (of every tenant) a suspect reference clip is compared with."""


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


async def ensure_room_to_build(session: AsyncSession, rt: VoicesRuntime, tenant_id: str) -> None:
    """Refuse an intake where no cloning engine runs (the voice could never be built,
    and the consent challenge would be spent), or while the tenant's new voices fill
    its share of the build queue. Builds take turns by tenant (builder.py), so one
    tenant's queue delays no other's; the cap bounds how long its own queue grows,
    checked before analysis so a refused intake costs nothing (so intakes analysed at
    the same moment may pass it together: it bounds the queue roughly, not exactly).
    Rebuilds (evicted voices) do not count: the platform queued those, not the tenant."""
    if rt.builder.ctx.fitter is None:
        raise CloningUnavailable(
            "This deployment runs no cloning engine (it needs kokoro among "
            "SCAISPEAK_ENGINES__ENABLED); voices cannot be cloned here."
        )
    limit = rt.settings.builds_waiting_max_per_tenant
    waiting = await session.scalar(
        select(func.count())
        .select_from(Voice)
        .where(
            Voice.tenant_id == tenant_id,
            Voice.status == VoiceStatus.processing,
            Voice.embedding_blob.is_(None),  # never built: a new voice
            Voice.revoked_at.is_(None),
        )
    )
    await session.commit()  # ends the read's transaction: analysis takes seconds
    if (waiting or 0) >= limit:
        raise TooManyVoiceBuilds(limit)


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
        licence=None,  # loaded, so the voice can be serialised after its session ends
    )


@asynccontextmanager
async def forgotten_unless_committed(
    rt: VoicesRuntime, keys: list[str | None]
) -> AsyncIterator[None]:
    """Around storing a new voice's blobs and committing its rows: if anything in
    between fails (a second upload, the audit entry, the commit), the blobs go too,
    since no row will ever point at them."""
    try:
        yield
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
    """Verify the consent and the reference, and make the voice: charged (charging.py)
    once the caller may make it at all."""
    check_scope(principal, spec.scope)
    check_language(spec.language)

    async def make() -> MadeVoice:
        return await _clone(session, rt, principal, spec, challenge_id, reference, consent)

    return await charged(session, principal, rt.settings.clone_price_micros, make)


async def _clone(
    session: AsyncSession,
    rt: VoicesRuntime,
    principal: Principal,
    spec: NewVoice,
    challenge_id: str,
    reference: bytes,
    consent: bytes,
) -> MadeVoice:
    await ensure_room_to_build(session, rt, principal.tenant_id)
    challenge = await caller_challenge(session, principal, challenge_id)
    chain = audit.chain_for(principal.tenant_id)
    problem = challenge_problem(challenge)
    if not problem and not await count_attempt(session, challenge.id):
        problem = TOO_MANY_ATTEMPTS
    if problem:
        report = {"passed": False, "challenge": {"status": "fail", "hint": problem}}
        await _reject(session, chain, principal, challenge.id, report, problem)
    result = await rt.analysis.run(
        verify_consent,
        reference,
        consent,
        challenge.statement,
        challenge.phrase,
        rt.settings,
        owner=principal.tenant_id,
    )
    # The statement names a phrase issued with the challenge: a replay was made since.
    result = replace(
        result,
        reference=await refuse_replay(session, result.reference, None),
        consent=await refuse_replay(session, result.consent, challenge.created_at),
    )
    evidence = {
        "reference_sha256": audit.fingerprint(reference),
        "consent_sha256": audit.fingerprint(consent),
    }
    for action, details in result.audit_steps():
        details.update(challenge_id=challenge.id, **evidence)
        await audit.append(session, chain, principal.user_id, action, details=details)
    marked = [result.reference, result.consent]
    await audit_synthetic(session, principal, marked, {"challenge_id": challenge.id, **evidence})
    # The checks' entries stand whatever becomes of the acceptance: a blob store that
    # fails to keep the reference rolled them back with it, and the trail lost them.
    await session.commit()
    if not result.passed:
        report = {"passed": False, "challenge": {"status": "pass", "hint": ""}, **result.as_dict()}
        detail = "Intake rejected; failed: " + ", ".join(result.failed_checks()) + "."
        await _reject(session, chain, principal, challenge.id, report, detail)
    voice = await _accept(session, rt, principal, spec, challenge, result, evidence)
    rt.builder.kick()
    audio = result.reference.audio
    return voice, (audio.duration_s if audio is not None else 0.0)


def _synthetic_check_is(clip: ClipResult, status: CheckStatus) -> bool:
    checks = clip.report.checks if clip.report else ()
    return any(c.name == "synthetic" and c.status is status for c in checks)


async def refuse_replay(
    session: AsyncSession, clip: ClipResult, since: datetime | None
) -> ClipResult:
    """A clip fails ``synthetic`` when its fingerprint matches a clip this service made
    since ``since`` (the challenge, for a consent recording) or among the latest
    ``REPLAY_LOOKBACK`` (any tenant's; nothing about it is revealed). Every clip is
    looked up, not only one with a weak watermark score: a tenant may turn the marking
    of stock voices off, and their speech then passed as a person's (helper-67)."""
    if clip.audio is None or clip.report is None:
        return clip
    if _synthetic_check_is(clip, CheckStatus.fail):
        return clip  # already refused by its watermark
    audio = clip.audio
    if since is None:  # up to REPLAY_LOOKBACK clips: at one speed (21 would take seconds)
        words = [await asyncio.to_thread(fp.fingerprint, audio.pcm, audio.rate)]
    else:  # the few clips made since the challenge: at every speed it may have been set to
        words = await asyncio.to_thread(fp.fingerprints_at_speeds, audio.pcm, audio.rate)
    if not await provenance.made_here_since(session, words, since, REPLAY_LOOKBACK):
        return clip
    checks = tuple(
        replace(c, status=CheckStatus.fail, hint=SYNTHETIC_HINT) if c.name == "synthetic" else c
        for c in clip.report.checks
    )
    return replace(clip, report=replace(clip.report, checks=checks))


def synthetic_scores(clips: list[ClipResult]) -> dict[str, float | None]:
    """Clips that failed the ``synthetic`` check (they carry our watermark), by kind."""
    return {
        clip.kind.value: check.value
        for clip in clips
        if clip.report is not None
        for check in clip.report.checks
        if check.name == "synthetic" and check.status is CheckStatus.fail
    }


async def audit_synthetic(
    session: AsyncSession, principal: Principal, clips: list[ClipResult], details: dict[str, Any]
) -> None:
    """An audit entry when an intake is handed our own synthetic speech (the caller
    commits): a replayed clip is an attempt to fake consent, worth its own entry."""
    scores = synthetic_scores(clips)
    if scores:
        await audit.append(
            session,
            audit.chain_for(principal.tenant_id),
            principal.user_id,
            "synthetic_audio_rejected",
            details={**details, "watermark_confidence": scores},
        )


async def _accept(
    session: AsyncSession,
    rt: VoicesRuntime,
    principal: Principal,
    spec: NewVoice,
    challenge: ConsentChallenge,
    result: ConsentVerification,
    evidence: dict[str, str],
) -> Voice:
    """Consume the challenge, keep the reference, record the consent: one commit."""
    audio, statement, speaker = result.reference.audio, result.statement, result.speaker
    assert audio is not None and statement is not None and speaker is not None
    voice = new_cloned_voice(principal, spec, VoiceStatus.processing, "building the voice")
    chain = audit.chain_for(principal.tenant_id)
    # Claimed before the reference is stored, so a losing intake leaves no blob behind.
    if not await claim_challenge(session, challenge.id, voice.id):
        detail = "This challenge was used for another voice meanwhile; request a new one."
        await _record_rejection(session, chain, principal, challenge.id, detail)
        raise ChallengeUsed(detail)
    async with forgotten_unless_committed(rt, [voice.reference_blob]):
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
        await session.flush()
        details = {"challenge_id": challenge.id, "scope": spec.scope.value, **evidence}
        await audit.append(
            session, chain, principal.user_id, "clone_accepted", voice_id=voice.id, details=details
        )
        await session.commit()
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
    await _record_rejection(session, chain, principal, challenge_id, detail)
    raise IntakeRejected(detail, report)


async def _record_rejection(
    session: AsyncSession, chain: str, principal: Principal, challenge_id: str, detail: str
) -> None:
    """Commit the attempt's audit entries and a ``clone_rejected`` entry saying why."""
    details = {"challenge_id": challenge_id, "reason": detail}
    await audit.append(session, chain, principal.user_id, "clone_rejected", details=details)
    await session.commit()
