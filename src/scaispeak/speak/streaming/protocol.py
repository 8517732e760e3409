"""The streaming protocol's messages: what a client may send, and the events it gets back.

Transport-neutral: the WebSocket route and (later) a WebRTC data channel carry the same
JSON text messages. Parsing turns every mistake into a :class:`ServiceError` with a
stable ``code``, which the session reports as an ``error`` event (docs/streaming.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from scaispeak.platform.errors import BadRequest, InvalidJson, ServiceError
from scaispeak.speak.streaming.delivery import StreamUsage
from scaispeak.speak.synthesis.audio import content_type
from scaispeak.speak.synthesis.service import StreamSpec
from scaispeak.speak.synthesis.timestamps import WordTiming

NORMAL_CLOSE = 1000
"""WebSocket close code after ``done``; a fatal error closes with 4000 + its status."""


class InvalidMessage(ServiceError):
    """A message of a known type with missing, unknown or mistyped fields."""

    status, code, title = 422, "invalid_message", "Invalid message"


MAX_MESSAGE_CHARS = 256 * 1024
"""The longest client message read: a text message rarely holds more than a paragraph,
and a stream's whole text is capped lower still (``max_text_chars``, 100,000)."""
_MOST_FIELDS = 32
"""More fields than any message has: past it the message is refused unread, since
validating (and describing) a million unknown keys would hold the event loop."""


class MessageTooLarge(ServiceError):
    status, code, title = 413, "message_too_large", "Message too large"


class UnknownMessageType(BadRequest):
    code, title = "unknown_message_type", "Unknown message type"


class NotStarted(ServiceError):
    """``text``, ``flush`` or ``cancel`` before a ``start`` was accepted."""

    status, code, title = 409, "not_started", "Stream not started"


class AlreadyStarted(ServiceError):
    status, code, title = 409, "already_started", "Stream already started"


class StreamEnding(ServiceError):
    """``text`` or ``flush`` after ``end``: the stream only finishes what it has."""

    status, code, title = 409, "stream_ending", "Stream is ending"


class TooManyStreams(ServiceError):
    status, code, title = 429, "too_many_streams", "Too many streams"
    retry_after = 1


class IdleTimeout(ServiceError):
    status, code, title = 408, "idle_timeout", "Stream idle for too long"


class SlowConsumer(ServiceError):
    """The client stopped reading what the stream sends it (docs/streaming.md, Limits)."""

    status, code, title = 429, "slow_consumer", "Client not reading"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartMessage(_Message):
    type: Literal["start"]
    voice_id: str = Field(min_length=1, max_length=200)
    # A plain string, so an unknown name gets the service's unsupported_format code.
    format: str = "pcm"
    # Strict: `true` is no speed and 16000.0 no rate (a client's bug, better named).
    sample_rate: int | None = Field(None, strict=True)
    speed: float = Field(1.0, strict=True)
    backend: str | None = Field(
        None, description="selfhosted or relay, within the tenant's policy (no failover)."
    )


class TextMessage(_Message):
    type: Literal["text"]
    text: str


class FlushMessage(_Message):
    type: Literal["flush"]


class CancelMessage(_Message):
    type: Literal["cancel"]


class EndMessage(_Message):
    type: Literal["end"]


ClientMessage = Annotated[
    StartMessage | TextMessage | FlushMessage | CancelMessage | EndMessage,
    Field(discriminator="type"),
]
_MESSAGES: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
_TYPES = ("start", "text", "flush", "cancel", "end")


def parse_message(raw: str | bytes) -> ClientMessage:
    """The client message in ``raw``; raises a :class:`ServiceError` naming the mistake."""
    if isinstance(raw, bytes):
        raise InvalidMessage("Send JSON text messages; binary messages are not accepted.")
    if len(raw) > MAX_MESSAGE_CHARS:
        raise MessageTooLarge(
            f"A message may hold {MAX_MESSAGE_CHARS} characters; send long text in pieces."
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # nesting deeper than the parser goes: not ours
        raise InvalidJson("The message is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidMessage('A message is a JSON object with a "type".')
    if len(data) > _MOST_FIELDS:
        raise InvalidMessage(f"A message has at most {_MOST_FIELDS} fields; this had {len(data)}.")
    if not isinstance(data.get("type"), str):  # a missing field, as docs/streaming.md says
        raise InvalidMessage(f'A message needs a "type", one of: {", ".join(_TYPES)}.')
    if data["type"] not in _TYPES:
        raise UnknownMessageType(
            f"Unknown message type {_shown(data['type'])}; use one of: {', '.join(_TYPES)}."
        )
    try:
        return _MESSAGES.validate_python(data)
    except ValidationError as exc:
        raise InvalidMessage(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_input=False)[:5]:
        where = ".".join(shortened(str(p)) for p in error["loc"][1:]) or "message"
        parts.append(f"{where}: {shortened(error['msg'], 200)}")
    return "; ".join(parts)


def _shown(value: object) -> str:
    return shortened(repr(value))


def shortened(text: str, most: int = 40) -> str:
    """``text`` cut to ``most`` characters. Errors name what the client sent (a type, a
    field) and wait, counted but not weighed, for a client that may not read them: a
    megabyte echoed per message would pin gigabytes before the count ends the stream."""
    return text if len(text) <= most else text[: most - 1] + "…"


def close_code(exc: ServiceError) -> int:
    """The WebSocket close code for a fatal error: 4000 + its HTTP-style status."""
    return 4000 + exc.status


def error_event(exc: ServiceError, *, fatal: bool) -> dict[str, Any]:
    """An ``error`` event: the problem's code, status, title and detail; fatal closes.
    An error that tells HTTP callers when to come back (``Retry-After``) tells a stream
    too, as ``retry_after`` in seconds (among its extras)."""
    event: dict[str, Any] = {
        "type": "error",
        "code": exc.code,
        "status": exc.status,
        "title": exc.title,
        "detail": exc.detail,
        "fatal": fatal,
    }
    return event | exc.extra


def started_event(stream_id: str, spec: StreamSpec) -> dict[str, Any]:
    return {
        "type": "started",
        "stream_id": stream_id,
        "voice_id": spec.voice_id,
        "format": spec.format.value,
        "sample_rate": spec.sample_rate,
        "content_type": content_type(spec.format, spec.sample_rate),
    }


@dataclass(frozen=True)
class SegmentTiming:
    """Where a segment sits in the utterance's audio, and its words' times (seconds from
    the start of the utterance: the stream's start, or the last cancel)."""

    start_s: float
    words: list[WordTiming]
    estimated: bool


def segment_event(
    sequence: int, text: str, audio_seconds: float, timing: SegmentTiming | None = None
) -> dict[str, Any]:
    """Announces the audio frames that follow: ``audio_seconds`` of them speak ``text``."""
    event: dict[str, Any] = {
        "type": "segment",
        "sequence": sequence,
        "text": text,
        "characters": len(text),
        "audio_seconds": audio_seconds,
    }
    if timing is not None:
        event["start"] = round(timing.start_s, 3)
        event["words"] = [w.as_dict() for w in timing.words]
        event["estimated"] = timing.estimated
    return event


def cancelled_event(usage: StreamUsage) -> dict[str, Any]:
    """After a cancel: what was delivered so far (every frame before this event)."""
    return {
        "type": "cancelled",
        "audio_seconds": usage.audio_seconds,
        "characters": usage.characters,
    }


def done_event(usage: StreamUsage) -> dict[str, Any]:
    return {"type": "done", "usage": usage.as_dict()}
