"""The one synthesis pipeline every transport uses.

text -> segments (split raw text, then normalise each) -> engine and loudness (in the
inference pool, per segment) -> join with pauses -> resample -> encode. Transports call
``render`` for whole clips or ``stream_segments`` to deliver audio as it is made.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass

import numpy as np

from scaispeak.settings import EngineSettings
from scaispeak.speak.engines.base import (
    AsyncEngine,
    Engine,
    EngineError,
    EngineUnavailable,
    Pcm,
    UpstreamFailed,
)
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.errors import BackendUnavailable, SynthesisFailed, UpstreamError
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.synthesis.audio import (
    AudioFormat,
    content_type,
    encode,
    join_segments,
    normalize_loudness,
    resample,
)
from scaispeak.speak.synthesis.inference import InferencePool, Priority
from scaispeak.speak.synthesis.text import Segment, normalize_text, split_segments


@dataclass(frozen=True)
class SpeechSpec:
    """What to say, in which voice, and in what audio shape."""

    text: str
    engine: str
    engine_voice: str
    format: AudioFormat
    sample_rate: int
    speed: float = 1.0


@dataclass(frozen=True)
class SegmentAudio:
    """One spoken, levelled segment at the engine's rate, before resampling and encoding."""

    index: int
    text: str
    pcm: Pcm
    pause_ms: float
    engine_seconds: float


@dataclass(frozen=True)
class SpokenClip:
    data: bytes
    content_type: str
    sample_rate: int
    duration_s: float
    characters: int
    segments: int
    engine_seconds: float


class SynthesisPipeline:
    def __init__(
        self,
        engines: EngineRegistry,
        pool: InferencePool,
        settings: EngineSettings,
        metrics: SpeakMetrics,
    ) -> None:
        self.engines = engines
        self.pool = pool
        self.settings = settings
        self.metrics = metrics
        # Read at scrape time, so the gauge is exact whichever transport queued the work.
        metrics.inference_queue.set_function(lambda: pool.pending)

    def plan(self, text: str) -> list[Segment]:
        """Split raw text into speakable segments (normalisation happens per segment)."""
        return split_segments(text, max_chars=self.settings.max_clause_chars)

    def pause_after(self, segment: Segment) -> float:
        if segment.boundary == "end":
            return 0.0
        if segment.boundary == "clause":
            return float(self.settings.clause_pause_ms)
        if segment.boundary == "paragraph":
            return 2.0 * self.settings.sentence_pause_ms
        return float(self.settings.sentence_pause_ms)

    async def speak_segment(
        self,
        index: int,
        segment: Segment,
        engine_name: str,
        voice: str,
        speed: float,
        *,
        priority: Priority = Priority.NORMAL,
        lane: Hashable | None = None,
    ) -> SegmentAudio:
        """Synthesize and level one segment off the event loop; records engine metrics.

        ``priority`` and ``lane`` order the call in the inference pool (a stream passes
        its id as the lane, so its segments take turns with other streams').
        """
        engine = self.engines.get(engine_name)
        spoken = normalize_text(segment.text)
        started = time.perf_counter()
        try:
            pcm = await self._synthesize(engine, spoken, voice, speed, priority, lane)
        except EngineUnavailable as exc:
            raise BackendUnavailable(f"The {engine_name} engine is unavailable: {exc}") from exc
        except UpstreamFailed as exc:
            raise UpstreamError(f"The {engine_name} upstream failed: {exc}") from exc
        except EngineError as exc:
            raise SynthesisFailed(f"The {engine_name} engine failed: {exc}") from exc
        elapsed = time.perf_counter() - started
        audio_s = len(pcm) / engine.sample_rate
        if audio_s > 0:
            self.metrics.engine_rtf.labels(engine_name).observe(elapsed / audio_s)
        self.metrics.characters.labels(engine_name).inc(len(segment.text))
        self.metrics.audio_seconds.labels(engine_name).inc(audio_s)
        return SegmentAudio(index, segment.text, pcm, self.pause_after(segment), elapsed)

    async def _synthesize(
        self,
        engine: Engine | AsyncEngine,
        text: str,
        voice: str,
        speed: float,
        priority: Priority,
        lane: Hashable | None,
    ) -> Pcm:
        if isinstance(engine, AsyncEngine):
            # Work done elsewhere (a relay's upstream, a GPU batcher): awaited here, so it
            # never holds an inference thread.
            pcm = await engine.synthesize_async(text, voice, speed=speed, priority=priority)
            return await asyncio.to_thread(self._level, pcm, engine.sample_rate)
        return await self.pool.run(
            self._synthesize_levelled, engine, text, voice, speed, priority=priority, lane=lane
        )

    def _level(self, pcm: Pcm, rate: int) -> Pcm:
        return normalize_loudness(pcm, rate, self.settings.target_lufs)

    def _synthesize_levelled(self, engine: Engine, text: str, voice: str, speed: float) -> Pcm:
        # Levelled per segment, in the worker thread: streaming cannot wait for the whole
        # clip, and doing the same for batch keeps both transports' audio identical.
        return self._level(engine.synthesize(text, voice, speed=speed), engine.sample_rate)

    async def stream_segments(
        self, segments: list[Segment], engine_name: str, voice: str, speed: float
    ) -> AsyncIterator[SegmentAudio]:
        for index, segment in enumerate(segments):
            yield await self.speak_segment(index, segment, engine_name, voice, speed)

    def _assemble(
        self, parts: list[tuple[Pcm, float]], from_rate: int, to_rate: int, fmt: AudioFormat
    ) -> tuple[bytes, int]:
        joined = join_segments(parts, from_rate) if parts else np.zeros(0, np.float32)
        final = resample(joined, from_rate, to_rate)
        return encode(final, to_rate, fmt), len(final)

    async def render(self, spec: SpeechSpec) -> SpokenClip:
        """Speak the whole text and return one encoded clip."""
        engine = self.engines.get(spec.engine)
        segments = self.plan(spec.text)
        parts: list[tuple[Pcm, float]] = []
        engine_seconds = 0.0
        async for seg in self.stream_segments(segments, spec.engine, spec.engine_voice, spec.speed):
            parts.append((seg.pcm, seg.pause_ms))
            engine_seconds += seg.engine_seconds
        # Joining, levelling and encoding minutes of audio takes long enough to stall
        # the event loop, so it runs in a thread too (not the inference pool's).
        data, samples = await asyncio.to_thread(
            self._assemble, parts, engine.sample_rate, spec.sample_rate, spec.format
        )
        return SpokenClip(
            data=data,
            content_type=content_type(spec.format),
            sample_rate=spec.sample_rate,
            duration_s=samples / spec.sample_rate,
            characters=len(spec.text),
            segments=len(segments),
            engine_seconds=engine_seconds,
        )
