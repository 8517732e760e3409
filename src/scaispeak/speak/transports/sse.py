"""OpenAI's ``stream_format: "sse"`` on ``/v1/audio/speech``: speech as server-sent
events, for clients that read events rather than a body of audio.

Each piece of audio, as it is made, is a ``speech.audio.delta`` event (``audio``: the
piece in base64; the pieces joined are the same file the plain answer would be), and
the end is ``speech.audio.done`` with ``usage``. We count no tokens: ``input_tokens``
is the characters spoken, ``output_tokens`` 0; the event also says ``characters``,
``audio_seconds`` and ``cost_micros``. An engine failing part-way is an ``error``
event that ends the stream properly (unbilled), where the plain answer is cut off.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response

from scaispeak.platform.errors import ServiceError
from scaispeak.speak.synthesis.batch import SpokenResult
from scaispeak.speak.transports.passed import AS_IT_COMES, PassedAudio

EVENT_STREAM = "text/event-stream"


class SpeechEvents(PassedAudio):
    """Speech sent on as it arrives (``PassedAudio``), framed as events."""

    framing = EVENT_STREAM

    def framed(self, chunk: bytes) -> bytes:
        return delta(chunk)

    def ending(self) -> bytes:
        speech = self.result.speech
        return done(len(speech.spec.text), speech.duration_s, self.result.cost_micros)

    def failing(self, exc: ServiceError) -> bytes:
        return event({"type": "error", "error": {"message": exc.detail, "code": exc.code}})


def whole_clip_events(
    result: SpokenResult, headers: dict[str, str], background: BackgroundTask
) -> Response:
    """A clip made whole (one segment, or audio that needed our work) as the events."""
    clip = result.clip
    body = delta(clip.data) + done(clip.characters, clip.duration_s, result.cost_micros)
    return Response(
        body, media_type=EVENT_STREAM, headers=headers | AS_IT_COMES, background=background
    )


def delta(chunk: bytes) -> bytes:
    return event({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})


def done(characters: int, audio_seconds: float, cost_micros: int) -> bytes:
    usage = {"input_tokens": characters, "output_tokens": 0, "total_tokens": characters}
    return event(
        {
            "type": "speech.audio.done",
            "usage": usage,
            "characters": characters,
            "audio_seconds": round(audio_seconds, 3),
            "cost_micros": cost_micros,
        }
    )


def event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
