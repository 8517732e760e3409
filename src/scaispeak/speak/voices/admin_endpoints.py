"""Platform endpoints: global voices with their licences (superadmins) and the audit
chain check (tenant admins for their tenant's chain, superadmins for any)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile

from scaispeak.platform.blob_response import document_response
from scaispeak.platform.deps import ApiKeyCaller, Caller, Session, platform_context
from scaispeak.platform.errors import Forbidden, NotFound
from scaispeak.speak.context import speak_context
from scaispeak.speak.voices import audit, licences
from scaispeak.speak.voices.editing import VoiceChanges
from scaispeak.speak.voices.intake_endpoints import Capped, read_upload
from scaispeak.speak.voices.runtime import voices_runtime
from scaispeak.speak.voices.schemas import (
    ChainReportOut,
    GlobalVoiceIn,
    GlobalVoicePatch,
    LicenceIn,
    VoiceOut,
)

router = APIRouter(prefix="/v1/modules/scaispeak", tags=["voices"])


def _terms(body: LicenceIn) -> licences.LicenceTerms:
    return licences.LicenceTerms(
        licensor=body.licensor,
        terms=body.terms,
        source=body.source,
        engine_licence=body.engine_licence,
        voice_licence=body.voice_licence,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        fields_set=frozenset(body.model_fields_set),
    )


@router.post("/voices/global", status_code=201)
async def create_global_voice(
    request: Request, session: Session, caller: ApiKeyCaller, body: GlobalVoiceIn
) -> VoiceOut:
    """Superadmins: a platform voice on a running engine, with its licence."""
    spec = licences.GlobalVoiceSpec(
        name=body.name,
        language=body.language,
        engine=body.engine,
        engine_voice=body.engine_voice,
        licence=_terms(body.licence),
        description=body.description,
        tags=tuple(body.tags),
    )
    engines = speak_context(request).engines
    return VoiceOut.of(await licences.create_global_voice(session, caller, engines, spec))


@router.patch("/voices/global/{voice_id}")
async def update_global_voice(
    session: Session, caller: ApiKeyCaller, voice_id: str, body: GlobalVoicePatch
) -> VoiceOut:
    """Superadmins: edit the voice and its licence (e.g. close or extend the window)."""
    changes = VoiceChanges(body.name, body.description, body.language, body.tags)
    terms = _terms(body.licence) if body.licence is not None else None
    voice = await licences.update_global_voice(session, caller, voice_id, changes, terms)
    return VoiceOut.of(voice)


@router.put("/voices/global/{voice_id}/licence/proof", dependencies=[Capped])
async def put_licence_proof(
    request: Request,
    session: Session,
    caller: ApiKeyCaller,
    voice_id: str,
    document: Annotated[UploadFile, File(description="The signed licence: PDF, PNG or JPEG")],
) -> VoiceOut:
    data = await read_upload(document, voices_runtime(request).settings.document_max_bytes)
    storage = platform_context(request).storage
    voice = await licences.attach_licence_proof(session, storage, caller, voice_id, data)
    return VoiceOut.of(voice)


@router.get("/voices/global/{voice_id}/licence/proof", response_class=Response)
async def get_licence_proof(
    request: Request, session: Session, caller: ApiKeyCaller, voice_id: str
) -> Response:
    storage = platform_context(request).storage
    data, media_type = await licences.licence_proof(session, storage, caller, voice_id)
    return document_response(data, media_type, f"licence-{voice_id}")


@router.get("/voices/audit/verify")
async def verify_audit_chain(
    session: Session, caller: Caller, chain: str | None = None
) -> ChainReportOut:
    """Recompute the hash chain; ``intact: false`` names the first altered entry.

    Tenant admins check their tenant's chain; superadmins any chain (default
    ``global``, the platform's own).
    """
    if caller.is_superadmin:
        target = chain or audit.GLOBAL_CHAIN
    elif caller.is_admin_of(caller.tenant_id) and chain in (None, caller.tenant_id):
        target = caller.tenant_id
    else:
        raise Forbidden("Tenant admins verify their own tenant's chain only.")
    if not await audit.is_chain(session, target):
        raise NotFound(f"No audit chain {target[:80]!r}: name a tenant id or 'global'.")
    report = await audit.verify_chain(session, target)
    return ChainReportOut(**report.__dict__)
