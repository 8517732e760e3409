"""Inline speech sent as it is made: each segment is encoded and sent once spoken.

A whole clip answers only after its last segment: seconds to minutes for long text,
past many proxies' timeouts, and OpenAI's clients read audio as it comes. Here the
first segment is spoken before the answer starts (so a failing backend can still
fail over, and an error can still be a problem document); the rest follow one by
one through a streaming encoder. Each segment is shaped as a stream shapes it
(faded edges, its pause, resampled: ``shape_segment``) and limited to the ceiling as
a whole clip is; the first ``fingerprint_seconds`` are kept for its provenance record.

Only for engines that level (and mark) each segment in the pool, without word times:
a relay's audio is levelled over the whole clip, or passed through (passthrough.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field, replace

from scaispeak.platform.accounting.service import Charge
from scaispeak.speak.engines.base import AsyncEngine
from scaispeak.speak.provenance.capture import StreamCapture
from scaispeak.speak.synthesis.audio import (
    UNSTREAMABLE_FORMATS,
    StreamEncoder,
    content_type,
    shape_segment,
)
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import SegmentAudio, SpeechSpec
from scaispeak.speak.synthesis.text import Segment

SpeakOne = Callable[[int, Segment], Awaitable[SegmentAudio]]


def can_stream(pipeline: SynthesisPipeline, spec: SpeechSpec) -> bool:
    """Whether ``spec`` can be sent as it is made: an engine of the pool, a format that
    encodes as a stream (not FLAC), no word times, and more than one segment (one
    segment gains nothing, and loses Content-Length)."""
    engine = pipeline.engines.get(spec.engine)
    return (
        not isinstance(engine, AsyncEngine)
        and spec.format not in UNSTREAMABLE_FORMATS
        and not spec.timestamps
        and len(pipeline.plan(spec.text)) > 1
    )


async def open_streamed(pipeline: SynthesisPipeline, spec: SpeechSpec) -> StreamedSpeech:
    """Speak the first segment; returns speech whose ``chunks`` send it and the rest.
    Raises what ``make`` raises for the first segment (failover moves on then)."""
    engine = pipeline.engines.get(spec.engine)
    embed = pipeline.must_embed(spec.engine, spec.watermark)

    async def speak(index: int, segment: Segment) -> SegmentAudio:
        # Normal priority, the first segment too: it may be a whole sentence, and the
        # threads kept for first audio must stay free for real-time streams' first
        # clauses, which are cut short for them (inference.py).
        return await pipeline.speak_part(spec, index, segment, watermark=embed, levelled=True)

    segments = pipeline.plan(spec.text)
    first = await speak(0, segments[0])
    capture = StreamCapture(
        spec.sample_rate, pipeline.fingerprint_seconds, watermarked=spec.watermark
    )
    return StreamedSpeech(spec, engine.sample_rate, segments, first, speak, capture)


@dataclass
class StreamedSpeech:
    """Speech on its way from the engine, a segment at a time (see the module)."""

    spec: SpeechSpec
    engine_rate: int
    segments: list[Segment]
    first: SegmentAudio
    speak: SpeakOne
    capture: StreamCapture
    spoken_characters: int = field(default=0, init=False)
    """Characters of the segments spoken so far (of ``segments``' own text)."""

    content_length: None = None
    """Not known before the last segment: the answer is chunked."""
    stops_unheard = True
    """Segments are spoken when ``chunks`` asks: a caller who has gone asks no more."""

    @property
    def content_type(self) -> str:
        return content_type(self.spec.format, self.spec.sample_rate)

    @property
    def duration_s(self) -> float:
        """The audio made so far (all of it, once ``chunks`` has ended)."""
        return self.capture.duration_s

    @property
    def segment_count(self) -> int:
        return len(self.segments)

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The encoded audio, segment by segment; the encoder's tail last."""
        encoder = StreamEncoder(self.spec.format, self.spec.sample_rate)
        for index, segment in enumerate(self.segments):
            spoken = self.first if index == 0 else await self.speak(index, segment)
            self.spoken_characters += len(segment.text)
            data = await asyncio.to_thread(self._encode, encoder, spoken)
            if data:
                yield data
        tail = encoder.finish()
        if tail:
            yield tail

    def _encode(self, encoder: StreamEncoder, spoken: SegmentAudio) -> bytes:
        rate = self.spec.sample_rate
        pcm = shape_segment(spoken.pcm, spoken.pause_ms, self.engine_rate, rate)
        self.capture.add(pcm)
        return encoder.encode(pcm)

    def settled(self, quoted: Charge) -> Charge:
        """``quoted`` (the whole text's price) for what was made: all of it, or, where
        the caller hung up and the rest was never spoken, the share of the text spoken."""
        whole = sum(len(segment.text) for segment in self.segments)
        audio = replace(quoted, audio_seconds=self.duration_s)
        if self.spoken_characters >= whole or whole == 0:
            return audio
        characters = quoted.characters * self.spoken_characters // whole
        cost = quoted.cost_micros * characters // max(quoted.characters, 1)  # price x chars
        return replace(audio, characters=characters, cost_micros=cost)

    async def close(self) -> None:
        """Nothing to let go: segments are spoken only when ``chunks`` asks."""

    def delivered(self) -> StreamCapture:
        """What was delivered, for its provenance record (after the last chunk)."""
        return self.capture
