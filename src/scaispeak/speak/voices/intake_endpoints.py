"""Intake endpoints: preflight, consent challenges, cloning (recorded or documented
consent), the superadmin's decision on documents, and revocation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from scaispeak.platform.blob_response import document_response
from scaispeak.platform.deps import ApiKeyCaller, Caller, Session, TenantSlot
from scaispeak.speak.voices import consent, document_intake, intake
from scaispeak.speak.voices.audio_input import ACCEPTED_FORMATS
from scaispeak.speak.voices.errors import UploadTooLarge
from scaispeak.speak.voices.models import Voice, VoiceScope
from scaispeak.speak.voices.preflight import ClipKind
from scaispeak.speak.voices.runtime import VoicesRuntime, voices_runtime
from scaispeak.speak.voices.schemas import (
    ChallengeIn,
    ChallengeOut,
    ConsentOut,
    DecisionIn,
    Label,
    PendingConsentOut,
    Prose,
    RevokeIn,
    VoiceOut,
)
from scaispeak.speak.voices.verification import preflight_upload

router = APIRouter(prefix="/v1/modules/scaispeak", tags=["voices"])

_MULTIPART_OVERHEAD = 64 * 1024


def _voice_url(voice: Voice) -> str:
    """Where a 202's voice is followed until it is ready (GET /voices/{id})."""
    return f"{router.prefix}/voices/{voice.id}"


def body_cap(request: Request) -> None:
    """Refuse an announced body larger than two audio uploads plus a document.

    FastAPI parses a multipart body before it runs dependencies, so this does not stop
    the parser from spooling a large upload to a temporary file (bounded memory); a
    hard ceiling on request bodies belongs in front of the service (a reverse proxy)."""
    s = voices_runtime(request).settings
    cap = 2 * s.upload_max_bytes + s.document_max_bytes + _MULTIPART_OVERHEAD
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > cap:
        raise UploadTooLarge(f"The request is larger than {cap} bytes.", limit=cap)


Capped = Depends(body_cap)


async def read_upload(upload: UploadFile, cap: int) -> bytes:
    data = await upload.read(cap + 1)
    if len(data) > cap:
        raise UploadTooLarge(
            f"{upload.filename or 'The upload'} is larger than {cap} bytes.", limit=cap
        )
    return data


@router.post("/voices/preflight", dependencies=[Capped, TenantSlot])
async def preflight(
    request: Request,
    caller: Caller,
    file: Annotated[UploadFile, File(description=ACCEPTED_FORMATS)],
    kind: Annotated[ClipKind, Form()] = ClipKind.reference,
) -> dict[str, Any]:
    """Pass/warn/fail per check, with hints; a failing clip is still a 200 report."""
    rt = voices_runtime(request)
    data = await read_upload(file, rt.settings.upload_max_bytes)
    result = await rt.analysis.run(
        preflight_upload, data, kind, rt.settings, owner=caller.tenant_id
    )
    return result.as_dict()


@router.post("/voices/consent/challenge", status_code=201, dependencies=[TenantSlot])
async def issue_challenge(
    request: Request, session: Session, caller: Caller, body: ChallengeIn
) -> ChallengeOut:
    """A one-time statement for one clone; read it aloud in the consent recording."""
    rt = voices_runtime(request)
    made = await consent.issue_challenge(session, caller, body.speaker_name, rt)
    return ChallengeOut.model_validate(made)


@router.post("/voices/clone", status_code=202, dependencies=[Capped, TenantSlot])
async def clone_voice(
    request: Request,
    response: Response,
    session: Session,
    caller: Caller,
    reference: Annotated[UploadFile, File(description="5-25 s of the speaker")],
    consent_recording: Annotated[UploadFile, File(description="The statement, read aloud")],
    challenge_id: Annotated[str, Form()],
    name: Annotated[Label, Form()],
    language: Annotated[str, Form(max_length=35)] = "en-US",
    scope: Annotated[VoiceScope, Form()] = VoiceScope.user,
    description: Annotated[Prose, Form()] = "",
) -> VoiceOut:
    """Verified consent -> a voice in ``processing`` (202); otherwise 422 with the report."""
    rt = voices_runtime(request)
    cap = rt.settings.upload_max_bytes
    ref, said = await read_upload(reference, cap), await read_upload(consent_recording, cap)
    spec = intake.NewVoice(name, scope, language, description)
    voice = await intake.clone_voice(session, rt, caller, spec, challenge_id, ref, said)
    response.headers["Location"] = _voice_url(voice)
    return VoiceOut.of(voice)


@router.post("/voices/clone/document", status_code=202, dependencies=[Capped, TenantSlot])
async def clone_with_document(
    request: Request,
    response: Response,
    session: Session,
    caller: Caller,
    reference: Annotated[UploadFile, File(description="5-25 s of the speaker")],
    document: Annotated[UploadFile, File(description="Signed consent: PDF, PNG or JPEG")],
    speaker_name: Annotated[Label, Form()],
    name: Annotated[Label, Form()],
    language: Annotated[str, Form(max_length=35)] = "en-US",
    scope: Annotated[VoiceScope, Form()] = VoiceScope.tenant,
    description: Annotated[Prose, Form()] = "",
) -> VoiceOut:
    """Tenant admins: the voice waits in ``pending`` until a superadmin approves."""
    rt = voices_runtime(request)
    ref = await read_upload(reference, rt.settings.upload_max_bytes)
    doc = await read_upload(document, rt.settings.document_max_bytes)
    spec = intake.NewVoice(name, scope, language, description)
    voice = await document_intake.submit_document_consent(
        session, rt, caller, spec, speaker_name, ref, doc
    )
    response.headers["Location"] = _voice_url(voice)
    return VoiceOut.of(voice)


@router.get("/voices/consent/pending")
async def pending_consents(session: Session, caller: Caller) -> list[PendingConsentOut]:
    """Superadmins: signed-document consents waiting for a decision, oldest first."""
    items = []
    for record in await consent.pending_documents(session, caller):
        voice = await session.get(Voice, record.voice_id)
        if voice is not None:
            items.append(
                PendingConsentOut(
                    voice=VoiceOut.of(voice), consent=ConsentOut.model_validate(record)
                )
            )
    return items


@router.get("/voices/{voice_id}/consent/document", response_class=Response)
async def consent_document(
    request: Request, session: Session, caller: Caller, voice_id: str
) -> Response:
    """Superadmins: the signed document behind a voice, to review before deciding."""
    data, media_type = await consent.document_of(session, voices_runtime(request), caller, voice_id)
    return document_response(data, media_type, f"consent-{voice_id}")


async def _decide(
    rt: VoicesRuntime, session: Session, caller: Caller, voice_id: str, *, approve: bool, note: str
) -> VoiceOut:
    voice = await consent.decide_document(session, rt, caller, voice_id, approve=approve, note=note)
    return VoiceOut.of(voice)


@router.post("/voices/{voice_id}/consent/approve")
async def approve_consent(
    request: Request,
    session: Session,
    caller: ApiKeyCaller,
    voice_id: str,
    body: DecisionIn = DecisionIn(),
) -> VoiceOut:
    rt = voices_runtime(request)
    return await _decide(rt, session, caller, voice_id, approve=True, note=body.note)


@router.post("/voices/{voice_id}/consent/reject")
async def reject_consent(
    request: Request,
    session: Session,
    caller: ApiKeyCaller,
    voice_id: str,
    body: DecisionIn = DecisionIn(),
) -> VoiceOut:
    rt = voices_runtime(request)
    return await _decide(rt, session, caller, voice_id, approve=False, note=body.note)


@router.post("/voices/{voice_id}/consent/revoke")
async def revoke_consent(
    request: Request,
    session: Session,
    caller: ApiKeyCaller,
    voice_id: str,
    body: RevokeIn = RevokeIn(),
) -> VoiceOut:
    """Unusable at once; reference audio and embedding deleted; the audit trail stays."""
    rt = voices_runtime(request)
    voice = await consent.revoke_consent(session, rt, caller, voice_id, body.reason)
    return VoiceOut.of(voice)
