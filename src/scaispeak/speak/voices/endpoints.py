"""Library endpoints: edit, delete, promote, warm a voice; read its consent trail.

The list and ``GET /voices/{id}`` live in ``transports/http.py``; these complete the
library. Thin: parse, call one service function, return a schema.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from scaispeak.platform.deps import ApiKeyCaller, Caller, Session, platform_context
from scaispeak.speak.errors import VoiceUnavailable
from scaispeak.speak.synthesis.engine_errors import engine_errors
from scaispeak.speak.voices import audit, consent, editing, library
from scaispeak.speak.voices.lifecycle import can_rebuild, mark_for_rebuild
from scaispeak.speak.voices.models import CLONE_ENGINE, VoiceStatus
from scaispeak.speak.voices.runtime import voices_runtime
from scaispeak.speak.voices.schemas import (
    AuditEntryOut,
    ConsentOut,
    VoiceConsentOut,
    VoiceOut,
    VoicePatch,
)

router = APIRouter(prefix="/v1/modules/scaispeak", tags=["voices"])

AUDIT_PAGE = 500


@router.patch("/voices/{voice_id}")
async def update_voice(
    session: Session, caller: ApiKeyCaller, voice_id: str, body: VoicePatch
) -> VoiceOut:
    """Owners edit their user voices; tenant admins tenant voices; superadmins global ones."""
    changes = editing.VoiceChanges(body.name, body.description, body.language, body.tags)
    return VoiceOut.of(await editing.update_voice(session, caller, voice_id, changes))


@router.delete("/voices/{voice_id}", status_code=204)
async def delete_voice(
    request: Request, session: Session, caller: ApiKeyCaller, voice_id: str
) -> Response:
    """Removes the voice; a cloned voice's audio and embedding are deleted too."""
    rt = voices_runtime(request)
    await editing.delete_voice(session, platform_context(request).storage, caller, voice_id)
    await rt.withdraw(voice_id)  # its queued and running jobs are cancelled
    return Response(status_code=204)


@router.post("/voices/{voice_id}/promotion/agree")
async def agree_to_promotion(session: Session, caller: ApiKeyCaller, voice_id: str) -> VoiceOut:
    """The owner records their agreement that a tenant admin may make it a tenant voice."""
    return VoiceOut.of(await editing.agree_to_promotion(session, caller, voice_id))


@router.get("/voices/promotion/offered")
async def offered_voices(session: Session, caller: Caller) -> list[VoiceOut]:
    """Tenant admins: the members' voices offered for promotion, oldest offer first."""
    return [VoiceOut.of(v) for v in await editing.offered_voices(session, caller)]


@router.post("/voices/{voice_id}/promote")
async def promote_voice(session: Session, caller: ApiKeyCaller, voice_id: str) -> VoiceOut:
    """A tenant admin promotes a user voice whose owner agreed (409 otherwise)."""
    return VoiceOut.of(await editing.promote_voice(session, caller, voice_id))


@router.post("/voices/{voice_id}/warm", responses={202: {"model": VoiceOut}})
async def warm_voice(
    request: Request, session: Session, caller: Caller, voice_id: str
) -> JSONResponse:
    """Load a ready cloned voice into the engine's cache (200); start rebuilding an
    evicted or failed one (202, ``processing``); 202 too while one is being built. A
    voice nothing can make ready (revoked, waiting for consent, rejected) is a 409."""
    rt = voices_runtime(request)
    voice = await library.get_voice(session, caller, voice_id)
    if voice.engine == CLONE_ENGINE and voice.status is VoiceStatus.ready and rt.cache:
        with engine_errors(CLONE_ENGINE):  # a blob it cannot read is a 409, not a 500
            await asyncio.to_thread(rt.cache.preload, voice.id)
    elif can_rebuild(voice) and await mark_for_rebuild(session, voice):
        await session.commit()
        rt.builder.kick()
    elif voice.status not in (VoiceStatus.ready, VoiceStatus.processing):
        raise VoiceUnavailable(
            f"Voice {voice.id} is {voice.status.value} and cannot be made ready: "
            f"{voice.status_reason}"
        )
    code = 200 if voice.status is VoiceStatus.ready else 202
    return JSONResponse(VoiceOut.of(voice).model_dump(mode="json"), status_code=code)


@router.get("/voices/{voice_id}/consent")
async def voice_consent(
    session: Session,
    caller: Caller,
    voice_id: str,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$")] = None,
) -> VoiceConsentOut:
    """The consent record and audit trail of a voice (a page of its entries, oldest
    first), for its editors, its owner and whoever recorded the consent."""
    voice, record = await consent.consent_in_reach(session, caller, voice_id)
    challenge_id = record.challenge_id if record else None
    chain = audit.chain_for(voice.tenant_id)
    after = int(cursor) if cursor else 0
    entries = await audit.entries_for_voice(
        session, chain, voice.id, AUDIT_PAGE + 1, challenge_id, after_seq=after
    )
    page = entries[:AUDIT_PAGE]
    return VoiceConsentOut(
        consent=ConsentOut.model_validate(record) if record else None,
        audit=[AuditEntryOut.model_validate(e) for e in page],
        next_cursor=str(page[-1].seq) if len(entries) > AUDIT_PAGE else None,
    )
