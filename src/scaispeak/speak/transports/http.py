"""HTTP endpoints of the module: the voice library and inline synthesis (thin)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from scaispeak.platform.deps import Caller, Session, platform_context
from scaispeak.speak.context import speak_context
from scaispeak.speak.synthesis.pipeline import SpokenClip
from scaispeak.speak.synthesis.service import SpeakParams, count_voice_use, prepare_speech
from scaispeak.speak.transports.schemas import SpeakRequest, VoiceOut, VoicePageOut
from scaispeak.speak.voices import library
from scaispeak.speak.voices.models import Voice, VoiceScope, VoiceStatus

router = APIRouter(prefix="/v1/modules/scaispeak", tags=["scaispeak"])

AUDIO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The audio, in the requested format.",
        "content": {"audio/wav": {}, "audio/mpeg": {}, "audio/ogg": {}, "audio/flac": {}},
    }
}


@router.get("/voices")
async def list_voices(
    request: Request,
    session: Session,
    caller: Caller,
    scope: VoiceScope | None = None,
    language: str | None = None,
    tag: str | None = None,
    status: VoiceStatus | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: str | None = None,
) -> VoicePageOut:
    limit = min(limit, platform_context(request).settings.limits.page_size_max)
    filters = library.VoiceFilters(scope, language, tag, status, q)
    page = await library.list_voices(session, caller, filters, limit=limit, cursor=cursor)
    return VoicePageOut(
        items=[VoiceOut.model_validate(v) for v in page.items], next_cursor=page.next_cursor
    )


@router.get("/voices/{voice_id}")
async def get_voice(session: Session, caller: Caller, voice_id: str) -> VoiceOut:
    return VoiceOut.model_validate(await library.get_voice(session, caller, voice_id))


@router.post("/speak", responses=AUDIO_RESPONSES, response_class=Response)
async def speak(request: Request, session: Session, caller: Caller, body: SpeakRequest) -> Response:
    params = SpeakParams(body.text, body.voice_id, body.format, body.sample_rate, body.speed)
    limits = platform_context(request).settings.limits
    return await speak_inline(
        request, session, caller, params, "http", max_chars=limits.inline_max_chars
    )


async def speak_inline(
    request: Request,
    session: Session,
    caller: Caller,
    params: SpeakParams,
    transport: str,
    *,
    max_chars: int,
) -> Response:
    """Shared by /speak and the OpenAI-compatible route: check, render, answer."""
    started = time.perf_counter()
    limits = platform_context(request).settings.limits
    ctx = speak_context(request)
    voice, spec = await prepare_speech(
        session, caller, params, ctx.engines, limits, max_chars=max_chars
    )
    clip = await ctx.pipeline.render(spec)
    ctx.metrics.time_to_first_audio.labels(transport).observe(time.perf_counter() - started)
    await count_voice_use(session, voice.id)
    return Response(clip.data, media_type=clip.content_type, headers=usage_headers(voice, clip))


def usage_headers(voice: Voice, clip: SpokenClip) -> dict[str, str]:
    return {
        "X-ScaiSpeak-Voice": voice.id,
        "X-ScaiSpeak-Engine": voice.engine,
        "X-ScaiSpeak-Characters": str(clip.characters),
        "X-ScaiSpeak-Audio-Seconds": f"{clip.duration_s:.3f}",
        "X-ScaiSpeak-Sample-Rate": str(clip.sample_rate),
        "X-ScaiSpeak-Segments": str(clip.segments),
    }
