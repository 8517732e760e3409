"""HTTP edge of provenance (thin): ``POST /detect`` and the tenant's watermark policy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from scaispeak.platform.deps import ApiKeyCaller, Caller, Session, TenantSlot, platform_context
from scaispeak.speak.context import speak_context
from scaispeak.speak.provenance import service
from scaispeak.speak.provenance.watermark import DETECTION_THRESHOLD, shared_watermarker
from scaispeak.speak.voices.audio_input import ACCEPTED_FORMATS
from scaispeak.speak.voices.errors import UploadTooLarge
from scaispeak.speak.voices.runtime import voices_runtime

router = APIRouter(prefix="/v1/modules/scaispeak", tags=["scaispeak: provenance"])


class OriginOut(BaseModel):
    request_id: str = Field(description="Request id (/speak), stream id or job id.")
    user_id: str = Field(description="Who made it.")
    kind: str = Field(description="speak (/speak and /v1/audio/speech), stream or job.")
    voice_id: str
    created_at: datetime
    watermarked: bool = Field(description="Whether that clip was marked when made.")
    bit_error_rate: float = Field(description="Fingerprint distance: 0 same, ~0.5 unrelated.")
    offset_s: float = Field(description="Where the upload starts inside that clip.")


class DetectionOut(BaseModel):
    watermarked: bool
    confidence: float = Field(description="Perth-Net's score, 0..1.")
    threshold: float
    duration_s: float
    origin: OriginOut | None = Field(
        description="Your tenant's clip this audio matches, when it matches one; "
        "never another tenant's."
    )


class WatermarkPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass unnoticed
    watermark_stock_voices: bool = Field(strict=True)


class WatermarkPolicyOut(BaseModel):
    enabled: bool = Field(description="The deployment watermarks at all (cloned voices always).")
    watermark_stock_voices: bool
    customised: bool = Field(description="False while the tenant uses the deployment default.")


def _policy_out(policy: service.WatermarkPolicy) -> WatermarkPolicyOut:
    return WatermarkPolicyOut(
        enabled=policy.enabled,
        watermark_stock_voices=policy.stock_voices,
        customised=policy.customised,
    )


@router.post("/detect", dependencies=[TenantSlot])
async def detect(
    request: Request,
    session: Session,
    caller: Caller,
    file: Annotated[UploadFile, File(description=ACCEPTED_FORMATS)],
) -> DetectionOut:
    """Does this audio carry our watermark? And, for your own tenant, which clip is it?"""
    settings = platform_context(request).settings
    cap = settings.provenance.detect_max_bytes
    data = await file.read(cap + 1)
    if len(data) > cap:
        raise UploadTooLarge(f"The upload is larger than {cap} bytes.", limit=cap)
    rt = voices_runtime(request)
    analysis = await rt.analysis.run(
        service.analyse_upload,
        data,
        settings.provenance,
        settings.voices,
        shared_watermarker(),
        owner=caller.tenant_id,
    )
    found = await service.find_origin(
        session, caller, analysis.fingerprint, settings.provenance.lookup_max_records
    )
    return DetectionOut(
        watermarked=analysis.watermarked,
        confidence=analysis.confidence,
        threshold=DETECTION_THRESHOLD,
        duration_s=round(analysis.duration_s, 3),
        origin=OriginOut(**found.__dict__) if found else None,
    )


@router.get("/provenance/policy")
async def get_policy(request: Request, session: Session, caller: Caller) -> WatermarkPolicyOut:
    settings = platform_context(request).settings.provenance
    return _policy_out(await service.load_policy(session, settings, caller.tenant_id))


@router.put("/provenance/policy")
async def put_policy(
    request: Request, session: Session, caller: ApiKeyCaller, body: WatermarkPolicyIn
) -> WatermarkPolicyOut:
    """Tenant admins: whether stock voices are watermarked (cloned voices always are)."""
    settings = platform_context(request).settings.provenance
    policy = await service.save_policy(session, caller, settings, body.watermark_stock_voices)
    speak_context(request).watermark_policies.put(caller.tenant_id, policy)  # here at once
    return _policy_out(policy)
