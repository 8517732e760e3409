"""``POST /v1/audio/speech``: OpenAI's speech API over the same pipeline.

The official ``openai`` client works unmodified against it. ``voice`` takes our voice
ids or OpenAI's stock names (mapped in voices.library.OPENAI_VOICE_ALIASES); ``pcm``
is 24 kHz s16le, as OpenAI documents.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from scaispeak.platform.deps import Caller, Session, platform_context
from scaispeak.speak.synthesis.service import SpeakParams
from scaispeak.speak.transports.http import AUDIO_RESPONSES, speak_inline
from scaispeak.speak.transports.schemas import OpenAISpeechRequest

router = APIRouter(prefix="/v1/audio", tags=["openai-compatible"])

_OPENAI_PCM_RATE = 24_000


@router.post("/speech", responses=AUDIO_RESPONSES, response_class=Response)
async def create_speech(
    request: Request, session: Session, caller: Caller, body: OpenAISpeechRequest
) -> Response:
    limits = platform_context(request).settings.limits
    rate = _OPENAI_PCM_RATE if body.response_format == "pcm" else None
    params = SpeakParams(body.input, body.voice, body.response_format, rate, body.speed)
    return await speak_inline(
        request, session, caller, params, "openai", max_chars=limits.openai_max_chars
    )
