"""``POST /v1/audio/speech``: OpenAI's speech API over the same pipeline.

The official ``openai`` client works unmodified against it. ``voice`` takes our voice
ids or OpenAI's stock names (mapped in voices.library.OPENAI_VOICE_ALIASES); ``pcm``
is 24 kHz s16le, as OpenAI documents.

Errors stay problem+json, with OpenAI's ``error`` object added (``OpenAIErrorRoute``):
OpenAI's clients show ``error.message`` and nothing else of a body. Speeds outside our
range (narrower than OpenAI's 0.25-4.0) and ``aac`` are refused, not approximated:
docs/errors.md, "The OpenAI-compatible route".
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from scaispeak.platform.deps import Caller, Session, platform_context
from scaispeak.platform.errors import Problem, problem_for_request
from scaispeak.speak.synthesis.service import SpeakParams
from scaispeak.speak.transports.http import AUDIO_RESPONSES, speak_inline
from scaispeak.speak.transports.schemas import OpenAISpeechRequest

_OPENAI_PCM_RATE = 24_000

_PARAM_OF_CODE = {
    "invalid_speed": "speed",
    "unsupported_format": "response_format",
    "unsupported_sample_rate": "response_format",
    "text_too_long": "input",
    "empty_text": "input",
    "unknown_voice": "voice",
}
"""Which request field an error is about, in OpenAI's ``error.param``."""


def openai_error(problem: Problem) -> dict[str, Any]:
    """OpenAI's error object for ``problem``: what its clients read (``message``)."""
    return {
        "message": problem.detail,
        "type": "server_error" if problem.status >= 500 else "invalid_request_error",
        "param": _param_of(problem),
        "code": problem.code,
    }


def _param_of(problem: Problem) -> str | None:
    """The request field the error is about: by its code, or, for a body that failed
    validation, the first field named in its errors (``["body", "input"]``)."""
    if problem.code in _PARAM_OF_CODE:
        return _PARAM_OF_CODE[problem.code]
    errors = problem.extra.get("errors") or [{}]
    loc = errors[0].get("loc") or []
    # A body that is not JSON at all has its error's position there, not a field.
    named = len(loc) >= 2 and loc[0] == "body" and isinstance(loc[1], str)
    return str(loc[1]) if named else None


class OpenAIErrorRoute(APIRoute):
    """A route whose errors (authentication and validation included) carry OpenAI's
    ``error`` object beside the problem+json fields."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer_errors_like_openai(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # a bug too: OpenAI's clients read its 500's error
                problem = problem_for_request(request, exc)
                return problem.response(request.url.path, error=openai_error(problem))

        return answer_errors_like_openai


router = APIRouter(prefix="/v1/audio", tags=["openai-compatible"], route_class=OpenAIErrorRoute)


# stream_format "sse" answers server-sent events instead of the audio's bytes.
_SPEECH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        **AUDIO_RESPONSES[200],
        "content": {**AUDIO_RESPONSES[200]["content"], "text/event-stream": {}},
    }
}


@router.post("/speech", responses=_SPEECH_RESPONSES, response_class=Response)
async def create_speech(
    request: Request, session: Session, caller: Caller, body: OpenAISpeechRequest
) -> Response:
    limits = platform_context(request).settings.limits
    # Formats are named in any case (service.parse_format): "PCM" is 24 kHz too.
    rate = _OPENAI_PCM_RATE if body.response_format.lower() == "pcm" else None
    params = SpeakParams(body.input, body.voice_id, body.response_format, rate, body.speed)
    return await speak_inline(
        request,
        session,
        caller,
        params,
        "openai",
        max_chars=limits.openai_max_chars,
        streams=True,
        events=body.stream_format == "sse",
    )
