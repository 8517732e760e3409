"""The one synthesis pipeline every transport uses.

text -> segments (split raw text, then normalise each) -> engine, loudness and the
provenance watermark (in the inference pool, per segment) -> join with pauses ->
resample -> encode. Transports call ``render`` for whole clips (or ``make`` then
``assemble``, to charge for the clip while it is encoded), and ``speak_segment`` or
``open_segment`` to deliver audio as it is made. A relayed clip that needs none of
this work is passed on as it arrives instead (``passes_through``, passthrough.py).

The watermark goes on each levelled segment, at the engine's rate, in the same worker
call as the engine: the one place every route passes (batch, streams, jobs; the
self-hosted engines and the relay alike), before resampling and encoding, which it is
built to survive (docs/provenance.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import replace

import numpy as np

from scaispeak.settings import EngineSettings
from scaispeak.speak.engines.base import (
    AsyncEngine,
    Engine,
    OpeningEngine,
    PassThroughEngine,
    Pcm,
    SelfMarkingEngine,
    TimedAsyncEngine,
    TimedEngine,
    WordSpans,
    WrittenTextEngine,
)
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.provenance.watermark import Watermarker, shared_watermarker
from scaispeak.speak.synthesis import openings
from scaispeak.speak.synthesis.audio import limit_to_ceiling, normalize_loudness
from scaispeak.speak.synthesis.clips import assemble_clip
from scaispeak.speak.synthesis.engine_errors import engine_errors
from scaispeak.speak.synthesis.inference import InferencePool, Priority, ThreadHold
from scaispeak.speak.synthesis.openings import OpenedSegment, OpenRequest, VoiceLevels
from scaispeak.speak.synthesis.passthrough import PassingSpeech, can_pass, open_passing
from scaispeak.speak.synthesis.speech import MadeSpeech, SegmentAudio, SpeechSpec, SpokenClip
from scaispeak.speak.synthesis.text import Segment, normalize_text, split_for_engine, split_segments
from scaispeak.speak.synthesis.text.speakable import has_letter
from scaispeak.speak.synthesis.text.tags import spoken_text

_SILENT: Pcm = np.zeros(0, dtype=np.float32)


class SynthesisPipeline:
    def __init__(
        self,
        engines: EngineRegistry,
        pool: InferencePool,
        settings: EngineSettings,
        metrics: SpeakMetrics,
        *,
        watermarker: Watermarker | None = None,
        fingerprint_seconds: float = 120.0,
    ) -> None:
        self.engines = engines
        self.pool = pool
        self.settings = settings
        self.metrics = metrics
        self.watermarker = watermarker or shared_watermarker()
        self.fingerprint_seconds = fingerprint_seconds
        self.levels = VoiceLevels(settings.target_lufs)
        # Read at scrape time, so the gauge is exact whichever transport queued the work.
        metrics.inference_queue.set_function(lambda: pool.pending)

    def plan(self, text: str) -> list[Segment]:
        """Split raw text into speakable segments (its SSML or HTML read for what it
        means first; normalisation happens per segment)."""
        return split_segments(spoken_text(text), max_chars=self.settings.max_clause_chars)

    def pause_after(self, segment: Segment) -> float:
        if segment.boundary == "end":
            return 0.0
        if segment.boundary == "clause":
            return float(self.settings.clause_pause_ms)
        if segment.boundary == "paragraph":
            return 2.0 * self.settings.sentence_pause_ms
        return float(self.settings.sentence_pause_ms)

    def must_embed(self, engine_name: str, watermark: bool) -> bool:
        """Whether the pipeline embeds the mark for audio that is to carry it
        (``watermark``): not when the engine's audio comes marked already."""
        engine = self.engines.get(engine_name)
        return watermark and not (isinstance(engine, SelfMarkingEngine) and engine.marks_output)

    def passes_through(self, spec: SpeechSpec) -> bool:
        """Whether the engine's audio for ``spec`` can go to the caller untouched
        (passthrough.can_pass)."""
        must_embed = self.must_embed(spec.engine, spec.watermark)
        return can_pass(self.engines.get(spec.engine), spec, must_embed)

    async def open_passing(self, spec: SpeechSpec) -> PassingSpeech:
        """Start the engine on the whole text (see ``passes_through``); returns when its
        audio begins to arrive. Raises the service errors ``make`` raises."""
        engine = self.engines.get(spec.engine)
        if not isinstance(engine, PassThroughEngine):
            raise TypeError(f"the {spec.engine} engine cannot pass its audio through")

        def arrived(audio_s: float, elapsed: float) -> None:
            self._count(spec.engine, spec.text, audio_s, elapsed)

        return await open_passing(engine, spec, self.fingerprint_seconds, arrived)

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
        watermark: bool = False,
        levelled: bool = True,
        admitted: bool = False,
    ) -> SegmentAudio:
        """Synthesize, level (and watermark) one segment off the event loop; records
        engine metrics.

        ``priority`` and ``lane`` order the call in the inference pool (a stream passes
        its id as the lane, so its segments take turns with other streams').
        ``admitted``: the segment follows others of its request or stream, and is not
        refused by a full queue (InferencePool.run); nor are a long segment's pieces
        after its first.
        ``levelled=False`` returns an async engine's audio as it came, for the caller
        to level (``make``); an engine in the pool always levels in its thread.
        """
        engine = self.engines.get(engine_name)
        spoken = normalize_text(segment.text)
        pause = self.pause_after(segment)
        if not has_letter(spoken):
            # Nothing to say ("🎉🎉🎉", "***"): no engine call, which a relay's upstream
            # would refuse, failing the whole request for a paragraph of emoji.
            return SegmentAudio(index, segment.text, _SILENT, pause, 0.0, None)
        if isinstance(engine, WrittenTextEngine) and engine.reads_written_text:
            spoken = segment.text
        started = time.perf_counter()

        async def render(text: str, admitted: bool) -> tuple[Pcm, WordSpans | None]:
            return await self._synthesize(
                engine, text, voice, speed, priority, lane, watermark, levelled, admitted
            )

        with engine_errors(engine_name):
            if len(spoken) <= self.settings.max_engine_chars:
                pcm, spans = await render(spoken, admitted)
            else:
                pcm, spans = await self._render_in_pieces(render, spoken, admitted)
        elapsed = time.perf_counter() - started
        self._count(engine_name, segment.text, len(pcm) / engine.sample_rate, elapsed)
        return SegmentAudio(index, segment.text, pcm, pause, elapsed, spans)

    async def _render_in_pieces(
        self,
        render: Callable[[str, bool], Awaitable[tuple[Pcm, WordSpans | None]]],
        spoken: str,
        admitted: bool,
    ) -> tuple[Pcm, WordSpans | None]:
        """A segment too long for one engine call (split_for_engine), piece by piece.
        Its word times are left to be estimated: the pieces' own do not line up."""
        pieces = split_for_engine(spoken, self.settings.max_engine_chars)
        parts = [(await render(piece, admitted or n > 0))[0] for n, piece in enumerate(pieces)]
        return np.concatenate(parts).astype(np.float32, copy=False), None

    def _count(self, engine_name: str, text: str, audio_s: float, elapsed: float) -> None:
        if audio_s > 0:
            self.metrics.engine_rtf.labels(engine_name).observe(elapsed / audio_s)
        self.metrics.characters.labels(engine_name).inc(len(text))
        self.metrics.audio_seconds.labels(engine_name).inc(audio_s)

    async def open_segment(
        self,
        segment: Segment,
        engine_name: str,
        voice: str,
        speed: float,
        *,
        head_seconds: float,
        lane: Hashable | None = None,
        watermark: bool = False,
        admitted: bool = False,
    ) -> OpenedSegment | None:
        """Make only the first ``head_seconds`` of a segment, at first-audio priority
        (openings.py); None when the engine cannot open segments, or when no inference
        thread is idle to keep for the rest (use ``speak_segment`` then). Finish it with
        :meth:`finish_segment`.

        Under load an opening would not start anything sooner (the same work, reordered)
        while its rest would queue behind other streams' and leave the listener a gap:
        measured at 8 streams on 2 cores, every first clause stalled (docs/benchmarks.md).
        The rest is due-soon work, which may not use a first-audio thread, so the gap
        also opens whenever normal or bulk work takes the only other thread: the thread
        is held for the rest from the start (inference.py), or the segment is not opened.
        """
        engine = self.engines.get(engine_name)
        if not isinstance(engine, OpeningEngine) or isinstance(engine, AsyncEngine):
            return None
        spoken = normalize_text(segment.text)
        if len(spoken) > self.settings.max_engine_chars or not has_letter(spoken):
            return None  # made in pieces, or silent, by speak_segment
        hold = self.pool.hold_thread_for_due_soon()
        if hold is None:
            return None
        pause = self.pause_after(segment)
        request = OpenRequest(
            segment.text,
            spoken,
            engine_name,
            engine.sample_rate,
            voice,
            speed,
            head_seconds,
            pause,
            watermark,
        )
        try:
            with engine_errors(engine_name):
                opened = await self.pool.run(
                    openings.open_levelled,
                    engine,
                    request,
                    self.levels,
                    self._mark,
                    priority=Priority.FIRST_AUDIO,
                    lane=lane,
                    admitted=admitted,
                )
        except BaseException:  # failed or cancelled (a barge-in): there will be no rest
            self.pool.release(hold)
            raise
        return self._hold_until_head_played(opened, hold)

    def _hold_until_head_played(self, opened: OpenedSegment, hold: ThreadHold) -> OpenedSegment:
        """``opened`` carrying the hold its rest will use. A rest not asked for by the
        time the head has played (the listener barged in, or playback stalled) would be
        late anyway, so the thread goes back to other work then."""
        if opened.opening is None:  # made whole: there is no rest to keep a thread for
            self.pool.release(hold)
            return opened
        asyncio.get_running_loop().call_later(
            opened.head.size / opened.rate, self.pool.release, hold
        )
        return replace(opened, rest_hold=hold)

    async def finish_segment(self, opened: OpenedSegment, *, lane: Hashable | None = None) -> Pcm:
        """The levelled (and marked) audio after an opened segment's head, due before the
        head has played (``Priority.DUE_SOON``), on the thread held for it if still held."""
        started = time.perf_counter()
        with engine_errors(opened.engine):
            rest = await self.pool.run(
                openings.finish_levelled,
                opened,
                self.levels,
                self._mark,
                priority=Priority.DUE_SOON,
                lane=lane,
                hold=opened.rest_hold,
                admitted=True,  # its head was made, and may be playing already
            )
        self._count(
            opened.engine, opened.text, opened.samples / opened.rate, time.perf_counter() - started
        )
        return rest

    async def _synthesize(
        self,
        engine: Engine | AsyncEngine,
        text: str,
        voice: str,
        speed: float,
        priority: Priority,
        lane: Hashable | None,
        watermark: bool,
        levelled: bool,
        admitted: bool,
    ) -> tuple[Pcm, WordSpans | None]:
        if isinstance(engine, AsyncEngine):
            # Work done elsewhere (a relay's upstream, a GPU batcher): awaited here, so it
            # never holds an inference thread.
            spans = None
            if isinstance(engine, TimedAsyncEngine):
                timed = await engine.synthesize_timed_async(
                    text, voice, speed=speed, priority=priority, admitted=admitted
                )
                pcm, spans = timed.pcm, timed.word_spans
            else:
                pcm = await engine.synthesize_async(
                    text, voice, speed=speed, priority=priority, admitted=admitted
                )
            if not levelled:
                return pcm, spans
            finished = await asyncio.to_thread(self._finish, pcm, engine.sample_rate, watermark)
            return finished, spans
        return await self.pool.run(
            self._synthesize_levelled,
            engine,
            text,
            voice,
            speed,
            watermark,
            priority=priority,
            lane=lane,
            admitted=admitted,
        )

    def _level(self, pcm: Pcm, rate: int) -> Pcm:
        return normalize_loudness(pcm, rate, self.settings.target_lufs)

    def _finish(self, pcm: Pcm, rate: int, watermark: bool) -> Pcm:
        # Marked after levelling, so the mark is not scaled away by the loudness gain.
        return self._mark(self._level(pcm, rate), rate, watermark)

    def _mark(self, pcm: Pcm, rate: int, watermark: bool) -> Pcm:
        # The mark adds peaks above the levelled audio's ceiling; limiting again keeps
        # the ceiling in what is delivered (and lets a relay's front see levelled audio).
        return limit_to_ceiling(self.watermarker.embed(pcm, rate), rate) if watermark else pcm

    def _synthesize_levelled(
        self, engine: Engine, text: str, voice: str, speed: float, watermark: bool
    ) -> tuple[Pcm, WordSpans | None]:
        # Levelled per segment, in the worker thread: streaming cannot wait for the whole
        # clip, and doing the same for batch keeps both transports' audio identical.
        spans = None
        if isinstance(engine, TimedEngine):
            timed = engine.synthesize_timed(text, voice, speed=speed)
            pcm, spans = timed.pcm, timed.word_spans
        else:
            pcm = engine.synthesize(text, voice, speed=speed)
        return self._finish(pcm, engine.sample_rate, watermark), spans

    async def make(self, spec: SpeechSpec) -> MadeSpeech:
        """Speak every segment of the text, in order (``assemble`` makes the clip)."""
        engine = self.engines.get(spec.engine)
        embed = self.must_embed(spec.engine, spec.watermark)
        levelled = not isinstance(engine, AsyncEngine)
        spoken = [
            await self.speak_part(spec, index, segment, watermark=embed, levelled=levelled)
            for index, segment in enumerate(self.plan(spec.text))
        ]
        return MadeSpeech(spec, engine.sample_rate, tuple(spoken), levelled, embed)

    async def speak_part(
        self, spec: SpeechSpec, index: int, segment: Segment, *, watermark: bool, levelled: bool
    ) -> SegmentAudio:
        """Segment ``index`` of ``spec``'s text, at normal priority in ``spec``'s lane;
        past the first, admitted (a full queue does not refuse the rest of a request)."""
        return await self.speak_segment(
            index,
            segment,
            spec.engine,
            spec.engine_voice,
            spec.speed,
            lane=spec.lane,
            watermark=watermark,
            levelled=levelled,
            admitted=index > 0,
        )

    async def assemble(self, made: MadeSpeech) -> SpokenClip:
        """Join, resample and encode made speech into one clip (clips.py). Joining and
        encoding minutes of audio takes long enough to stall the event loop, so it runs
        in a thread (not the inference pool's)."""
        return await asyncio.to_thread(assemble_clip, made, self._finish, self.fingerprint_seconds)

    async def render(self, spec: SpeechSpec) -> SpokenClip:
        """Speak the whole text and return one encoded clip."""
        return await self.assemble(await self.make(spec))
