"""Consent: one-time challenges, revocation, and the superadmin's decision on documents.

A challenge belongs to the user who asked for it and expires after
``challenge_ttl_s``; a clone that is accepted consumes it. Revoking consent makes the
voice unusable at once (the row is committed first), then deletes its reference
audio and embedding from storage, drops it from the engine's cache and runs the
revocation hooks (synth jobs will cancel the voice's jobs there). The consent record
and the audit trail stay.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import utcnow
from scaispeak.platform.errors import BadRequest, Forbidden, NotFound
from scaispeak.speak.voices import audit, purges
from scaispeak.speak.voices.access import (
    may_manage_consent,
    operated_voice,
    require_superadmin,
)
from scaispeak.speak.voices.documents import document_type
from scaispeak.speak.voices.errors import ConsentRevoked, NotPendingApproval, VoiceNotEditable
from scaispeak.speak.voices.library import get_voice
from scaispeak.speak.voices.lifecycle import lock_for_withdrawal, mark_for_rebuild
from scaispeak.speak.voices.models import (
    Consent,
    ConsentChallenge,
    ConsentKind,
    ConsentState,
    Voice,
    VoiceStatus,
    aware,
)
from scaispeak.speak.voices.runtime import VoicesRuntime
from scaispeak.speak.voices.statement import compose_statement


async def issue_challenge(
    session: AsyncSession, principal: Principal, speaker_name: str, rt: VoicesRuntime
) -> ConsentChallenge:
    name = " ".join(speaker_name.split())
    if not name:
        raise BadRequest("Name the speaker whose voice will be cloned.")
    phrase = rt.phrases()
    challenge = ConsentChallenge(
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        speaker_name=name,
        phrase=phrase,
        statement=compose_statement(name, rt.settings.platform_name, phrase),
        expires_at=utcnow() + timedelta(seconds=rt.settings.challenge_ttl_s),
    )
    session.add(challenge)
    await session.flush()
    await audit.append(
        session,
        audit.chain_for(principal.tenant_id),
        principal.user_id,
        "consent_challenge_issued",
        details={"challenge_id": challenge.id, "speaker_name": name},
    )
    await session.commit()
    return challenge


async def caller_challenge(
    session: AsyncSession, principal: Principal, challenge_id: str
) -> ConsentChallenge:
    """The caller's own challenge; anyone else's is a 404."""
    stmt = select(ConsentChallenge).where(
        ConsentChallenge.id == challenge_id,
        ConsentChallenge.tenant_id == principal.tenant_id,
        ConsentChallenge.user_id == principal.user_id,
    )
    challenge = (await session.execute(stmt)).scalar_one_or_none()
    if challenge is None:
        raise NotFound(f"No consent challenge {challenge_id!r}.")
    return challenge


CHALLENGE_MAX_ATTEMPTS = 10
"""Judged uploads and live takes one challenge allows: a genuine speaker retakes a noisy
recording a few times; an impostor tuning a splice against the speaker check would
otherwise have had the challenge's whole 15 minutes (helper-67)."""
TOO_MANY_ATTEMPTS = (
    f"This challenge has had its {CHALLENGE_MAX_ATTEMPTS} attempts; request a new one and "
    "record the statement again."
)


def challenge_problem(challenge: ConsentChallenge) -> str:
    """Why the challenge cannot be used now, or "" when it can."""
    if challenge.used_at is not None:
        return "This challenge was already used for a voice; request a new one."
    if aware(challenge.expires_at) <= utcnow():
        return "This challenge has expired; request a new one and record the statement again."
    if challenge.attempts >= CHALLENGE_MAX_ATTEMPTS:
        return TOO_MANY_ATTEMPTS
    return ""


async def count_attempt(session: AsyncSession, challenge_id: str) -> bool:
    """Count one judged attempt on the challenge, and commit it (a rejection must not
    roll it back); False once it has had ``CHALLENGE_MAX_ATTEMPTS``. One conditional
    UPDATE, so concurrent attempts cannot pass the bound together."""
    counted = await session.execute(
        update(ConsentChallenge)
        .where(
            ConsentChallenge.id == challenge_id,
            ConsentChallenge.attempts < CHALLENGE_MAX_ATTEMPTS,
        )
        .values(attempts=ConsentChallenge.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return getattr(counted, "rowcount", 0) == 1


async def claim_challenge(session: AsyncSession, challenge_id: str, voice_id: str) -> bool:
    """Mark the challenge used by ``voice_id``; False when another intake got there first.

    A conditional UPDATE, because the unused challenge an intake read at its start may
    be consumed by a concurrent intake during the seconds of verification. Only one
    UPDATE can match ``used_at IS NULL``: PostgreSQL makes the second wait for the first
    to commit and then re-checks the row; SQLite has one writer at a time."""
    result = await session.execute(
        update(ConsentChallenge)
        .where(ConsentChallenge.id == challenge_id, ConsentChallenge.used_at.is_(None))
        .values(used_at=utcnow(), voice_id=voice_id)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def consent_of(session: AsyncSession, voice_id: str) -> Consent | None:
    """The voice's latest consent record."""
    stmt = select(Consent).where(Consent.voice_id == voice_id).order_by(Consent.created_at.desc())
    return (await session.execute(stmt)).scalars().first()


async def consent_in_reach(
    session: AsyncSession, principal: Principal, voice_id: str
) -> tuple[Voice, Consent | None]:
    """A voice the caller sees (404 otherwise) and its consent, when the caller may read
    and revoke that consent (``access.may_manage_consent``; 403 otherwise)."""
    voice = await get_voice(session, principal, voice_id)
    record = await consent_of(session, voice.id)
    if not may_manage_consent(principal, voice, record):
        raise VoiceNotEditable(f"Your role may not manage the consent of voice {voice_id}.")
    return voice, record


async def _revocable(
    session: AsyncSession, principal: Principal, voice_id: str
) -> tuple[Voice, Consent | None]:
    if principal.is_superadmin:  # takedowns reach any tenant's voice
        voice = await operated_voice(session, principal, voice_id)
        return voice, await consent_of(session, voice.id)
    return await consent_in_reach(session, principal, voice_id)


async def revoke_consent(
    session: AsyncSession, rt: VoicesRuntime, principal: Principal, voice_id: str, reason: str
) -> Voice:
    voice, consent = await _revocable(session, principal, voice_id)
    if consent is None:
        raise BadRequest("This voice rests on a licence, not on consent; nothing to revoke.")
    keys = await lock_for_withdrawal(session, voice)  # read again: a revocation may have won
    if consent.state is ConsentState.revoked or voice.revoked_at is not None:
        raise ConsentRevoked("Consent for this voice was already revoked.")
    now = utcnow()
    consent.state = ConsentState.revoked
    consent.revoked_at, consent.revoked_by = now, principal.user_id
    voice.status, voice.status_reason = VoiceStatus.failed, "consent revoked"
    voice.revoked_at, voice.build_lease_until = now, None
    voice.reference_blob = voice.embedding_blob = None
    await audit.append(
        session,
        audit.chain_for(voice.tenant_id),
        principal.user_id,
        "consent_revoked",
        voice_id=voice.id,
        details={
            "consent_id": consent.id,
            "reason": reason,
            "blobs_deleted": keys,
        },
    )
    await purges.schedule(session, keys)
    await session.commit()  # unusable from here on, whatever happens next
    try:
        await purges.purge(session, rt.storage, keys)
    finally:
        await rt.withdraw(voice.id)
    return voice


async def pending_documents(session: AsyncSession, principal: Principal) -> list[Consent]:
    require_superadmin(principal)
    stmt = (
        select(Consent)
        .where(Consent.kind == ConsentKind.document, Consent.state == ConsentState.pending_approval)
        .order_by(Consent.created_at)
    )
    return list((await session.execute(stmt)).scalars())


async def _pending_document(session: AsyncSession, voice_id: str) -> tuple[Voice, Consent]:
    voice = await session.get(Voice, voice_id)
    consent = await consent_of(session, voice_id)
    if voice is None or consent is None:
        raise NotFound(f"No voice {voice_id!r} waits for approval.")
    if (
        consent.kind is not ConsentKind.document
        or consent.state is not ConsentState.pending_approval
    ):
        raise NotPendingApproval(f"Voice {voice_id} is not waiting for a consent decision.")
    return voice, consent


async def _claim_decision(
    session: AsyncSession, consent_id: str, voice_id: str, decision: ConsentState, by: str
) -> None:
    """Record the decision only while the consent still waits for one: an approve and a
    reject sent together would otherwise both succeed (a voice approved whose reference
    the reject had deleted). As in ``claim_challenge``, one conditional UPDATE wins."""
    decided = await session.execute(
        update(Consent)
        .where(Consent.id == consent_id, Consent.state == ConsentState.pending_approval)
        .values(state=decision, decided_by=by, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(decided, "rowcount", 0) != 1:
        await session.rollback()
        raise NotPendingApproval(f"Voice {voice_id} was decided meanwhile.")


async def decide_document(
    session: AsyncSession,
    rt: VoicesRuntime,
    principal: Principal,
    voice_id: str,
    *,
    approve: bool,
    note: str,
) -> Voice:
    """A superadmin approves (the voice starts building) or rejects (its audio is purged)."""
    require_superadmin(principal)
    voice, consent = await _pending_document(session, voice_id)
    if approve and consent.created_by == principal.user_id:
        # Four eyes: the bootstrap superadmin is also its tenant's admin, and approved
        # the consent it had itself submitted (helper-67).
        raise Forbidden(
            "A document consent is approved by a superadmin other than the one who submitted it."
        )
    decision = ConsentState.active if approve else ConsentState.rejected
    await _claim_decision(session, consent.id, voice_id, decision, principal.user_id)
    purged: list[str | None] = []
    if approve:
        pending = (VoiceStatus.pending,)
        await mark_for_rebuild(session, voice, "building the voice", from_states=pending)
    else:
        # No voice was made: the signed document (a person's name and signature) goes
        # with the reference audio; the trail keeps its SHA-256. A voice that was used
        # keeps its document as evidence after a revocation.
        purged = [voice.reference_blob, consent.document_blob]
        voice.status, voice.status_reason = VoiceStatus.failed, f"consent rejected: {note}"[:500]
        voice.reference_blob = None
        await session.execute(
            update(Consent).where(Consent.id == consent.id).values(document_blob=None)
        )
    await audit.append(
        session,
        audit.chain_for(voice.tenant_id),
        principal.user_id,
        "document_consent_approved" if approve else "document_consent_rejected",
        voice_id=voice.id,
        details={
            "consent_id": consent.id,
            "note": note,
            "evidence_sha256": consent.evidence_sha256,
        },
    )
    doomed = await purges.schedule(session, purged)
    await session.commit()
    await purges.purge(session, rt.storage, doomed)
    if approve:
        rt.builder.kick()
    return voice


async def document_of(
    session: AsyncSession, rt: VoicesRuntime, principal: Principal, voice_id: str
) -> tuple[bytes, str]:
    """The signed consent document of a voice (superadmins review it before deciding)."""
    require_superadmin(principal)
    record = await consent_of(session, voice_id)
    if record is None or not record.document_blob:
        raise NotFound(f"Voice {voice_id!r} has no consent document.")
    data = await rt.storage.get(record.document_blob)
    return data, document_type(data)
