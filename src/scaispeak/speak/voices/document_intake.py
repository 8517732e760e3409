"""Voice intake with a signed consent document, for voices recorded elsewhere.

A tenant admin sends the reference (a voice actor's studio take, an archive) and the
signed document (PDF, PNG or JPEG). The reference passes the same preflight as any
clone; the voice then waits in ``pending`` until a superadmin reviews the document
and decides (``consent.decide_document``), and only then is its embedding built.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.errors import BadRequest, Forbidden
from scaispeak.speak.voices import audit, blobs
from scaispeak.speak.voices.charging import MadeVoice, charged
from scaispeak.speak.voices.documents import document_type
from scaispeak.speak.voices.errors import IntakeRejected
from scaispeak.speak.voices.intake import (
    NewVoice,
    audit_synthetic,
    check_scope,
    ensure_room_to_build,
    forgotten_unless_committed,
    new_cloned_voice,
    refuse_replay,
)
from scaispeak.speak.voices.lifecycle import PENDING_APPROVAL_REASON, reference_wav
from scaispeak.speak.voices.models import Consent, ConsentKind, ConsentState, Voice, VoiceStatus
from scaispeak.speak.voices.preflight import ClipKind
from scaispeak.speak.voices.runtime import VoicesRuntime
from scaispeak.speak.voices.verification import preflight_upload


async def submit_document_consent(
    session: AsyncSession,
    rt: VoicesRuntime,
    principal: Principal,
    spec: NewVoice,
    speaker_name: str,
    reference: bytes,
    document: bytes,
) -> Voice:
    """A voice on a signed consent document, pending a superadmin's decision: charged
    as a clone when submitted (charging.py), whatever the decision. Who may submit is
    checked first: a member is told 403, not that the budget is spent."""
    if not principal.is_admin_of(principal.tenant_id):
        raise Forbidden("Only a tenant admin submits voices with a signed consent document.")
    check_scope(principal, spec.scope)
    speaker = " ".join(speaker_name.split())
    if not speaker:
        raise BadRequest("Name the speaker who signed the consent document.")

    async def make() -> MadeVoice:
        return await _submit(session, rt, principal, spec, speaker, reference, document)

    return await charged(session, principal, rt.settings.clone_price_micros, make)


async def _submit(
    session: AsyncSession,
    rt: VoicesRuntime,
    principal: Principal,
    spec: NewVoice,
    speaker: str,
    reference: bytes,
    document: bytes,
) -> MadeVoice:
    media_type = document_type(document)
    await ensure_room_to_build(session, rt, principal.tenant_id)
    clip = await rt.analysis.run(
        preflight_upload, reference, ClipKind.reference, rt.settings, owner=principal.tenant_id
    )
    clip = await refuse_replay(session, clip, None)
    chain = audit.chain_for(principal.tenant_id)
    evidence = {
        "document_sha256": audit.fingerprint(document),
        "reference_sha256": audit.fingerprint(reference),
        "media_type": media_type,
    }
    if clip.audio is None or not clip.passed:
        detail = "Reference rejected by preflight."
        failed = clip.report.failed() if clip.report else ["decode"]
        details = {"reason": detail, "failed_checks": failed, **evidence}
        await audit.append(
            session, chain, principal.user_id, "document_intake_rejected", details=details
        )
        await audit_synthetic(session, principal, [clip], evidence)
        await session.commit()
        raise IntakeRejected(detail, {"passed": False, "reference": clip.as_dict()})
    voice = new_cloned_voice(principal, spec, VoiceStatus.pending, PENDING_APPROVAL_REASON)
    keys = [voice.reference_blob, blobs.consent_document_key(voice.id)]
    async with forgotten_unless_committed(rt, keys):
        await rt.storage.put_bytes(keys[0] or "", reference_wav(clip.audio.pcm, clip.audio.rate))
        await rt.storage.put_bytes(keys[1] or "", document)
        await _record_pending(session, principal, voice, speaker, keys[1] or "", evidence)
        await session.commit()
    return voice, clip.audio.duration_s


async def _record_pending(
    session: AsyncSession,
    principal: Principal,
    voice: Voice,
    speaker: str,
    document_key: str,
    evidence: dict[str, str],
) -> None:
    session.add(voice)
    session.add(
        Consent(
            voice_id=voice.id,
            tenant_id=principal.tenant_id,
            kind=ConsentKind.document,
            state=ConsentState.pending_approval,
            speaker_name=speaker,
            evidence_sha256=evidence["document_sha256"],
            document_blob=document_key,
            created_by=principal.user_id,
        )
    )
    await session.flush()
    await audit.append(
        session,
        audit.chain_for(principal.tenant_id),
        principal.user_id,
        "document_consent_submitted",
        voice_id=voice.id,
        details={"speaker_name": speaker, **evidence},
    )
