"""A relayed clip passed on as it arrives: no buffering, levelling or re-encoding.

An upstream ScaiSpeak levels and marks its audio as we would (``PassThroughEngine``).
For pcm, or wav, at its rate, nothing is left for us to do to its audio. So the caller's
first audio need not wait for the upstream's last byte, for our check of its level,
or for the settlement. Those waits were most of the relay's added latency
(docs/benchmarks.md).

The whole text goes upstream in one request; the upstream splits and normalises it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from scaispeak.platform.accounting.service import Charge
from scaispeak.speak.engines.base import PassThroughEngine, Pcm
from scaispeak.speak.provenance import fingerprint
from scaispeak.speak.synthesis.audio import (
    AudioFormat,
    content_type,
    from_int16_bytes,
    wav_header,
)
from scaispeak.speak.synthesis.engine_errors import engine_errors
from scaispeak.speak.synthesis.speech import SpeechSpec
from scaispeak.speak.synthesis.text.tags import spoken_text

PASS_THROUGH_FORMATS = frozenset({AudioFormat.pcm, AudioFormat.wav})
"""Formats that are the engine's s16le bytes as they are (wav: behind a header)."""


def can_pass(engine: object, spec: SpeechSpec, must_embed: bool) -> bool:
    """Whether the engine's audio for ``spec`` can go to the caller untouched: it comes
    levelled and, if it is to carry the mark (``must_embed``), marked; in the format and
    at the rate asked for; for a text it takes in one call; without word times."""
    return (
        isinstance(engine, PassThroughEngine)
        and engine.levels_output
        and not must_embed
        and spec.format in PASS_THROUGH_FORMATS
        and spec.sample_rate == engine.sample_rate
        and not spec.timestamps
        and len(spec.text) <= engine.max_input_chars
    )


@dataclass
class PassingSpeech:
    """A whole text's audio on its way from the engine: what is charged for, and
    what is sent on, chunk by chunk, as it arrives."""

    spec: SpeechSpec
    rate: int
    audio_bytes: int
    """The engine's body size, known before it arrives (it sets the headers and charge)."""
    arriving: AsyncIterator[bytes]
    """The engine's bytes; a failure part-way raises the service error a caller is shown."""
    close: Callable[[], Awaitable[None]]
    fingerprint_seconds: float
    _start: bytearray = field(default_factory=bytearray)

    @property
    def duration_s(self) -> float:
        return self.audio_bytes // 2 / self.rate

    @property
    def content_length(self) -> int:
        return len(self._header()) + self.audio_bytes

    @property
    def segment_count(self) -> int:
        return 1  # the upstream splits the text itself

    stops_unheard = False
    """The upstream makes the whole clip once asked; it is paid for in full."""

    def settled(self, quoted: Charge) -> Charge:
        """The whole clip's charge: all of it is made, whether or not it is heard."""
        return quoted

    @property
    def content_type(self) -> str:
        return content_type(self.spec.format, self.spec.sample_rate)

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The delivered bytes: the header (wav), then the engine's bytes as they come."""
        header = self._header()
        if header:
            yield header
        keep = int(self.fingerprint_seconds * self.rate) * 2
        async for chunk in self.arriving:
            if len(self._start) < keep:
                self._start += chunk[: keep - len(self._start)]
            yield chunk

    def delivered(self) -> PassedClip:
        """What was delivered, for its provenance record (after the last chunk)."""
        usable = len(self._start) // 2 * 2
        start = from_int16_bytes(bytes(self._start[:usable]))
        return PassedClip(self.rate, self.duration_s, self.spec.watermark, start)

    def _header(self) -> bytes:
        if self.spec.format is AudioFormat.wav:
            return wav_header(self.rate, self.audio_bytes)
        return b""


@dataclass(frozen=True)
class PassedClip:
    """A passed-on clip's facts for provenance (``batch.record_delivery``)."""

    sample_rate: int
    duration_s: float
    watermarked: bool
    fingerprinted: Pcm

    def fingerprint(self) -> bytes:
        return fingerprint.to_bytes(fingerprint.fingerprint(self.fingerprinted, self.sample_rate))


async def open_passing(
    engine: PassThroughEngine,
    spec: SpeechSpec,
    fingerprint_seconds: float,
    arrived: Callable[[float, float], None],
) -> PassingSpeech:
    """Start ``engine`` on the whole text; returns when its audio begins to arrive.
    ``arrived(audio seconds, elapsed seconds)`` is told once the last byte is in."""
    started = time.perf_counter()
    with engine_errors(spec.engine):
        words = spoken_text(spec.text)  # as segments are: no upstream reads our tags aloud
        body = await engine.open_body(words, spec.engine_voice, speed=spec.speed)
    arriving, size = body.chunks, body.byte_length
    if size is None:  # no Content-Length: the headers and the charge need the size
        with engine_errors(spec.engine):
            whole = b"".join([chunk async for chunk in body.chunks])
        arriving, size = _at_once(whole), len(whole)

    async def counted() -> AsyncIterator[bytes]:
        with engine_errors(spec.engine):
            async for chunk in arriving:
                yield chunk
        arrived(size // 2 / engine.sample_rate, time.perf_counter() - started)

    return PassingSpeech(spec, engine.sample_rate, size, counted(), body.close, fingerprint_seconds)


async def _at_once(data: bytes) -> AsyncIterator[bytes]:
    yield data
