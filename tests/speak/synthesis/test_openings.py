"""Opened segments (synthesis/openings.py): a head now, the rest later, levelled alike."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from scaispeak.settings import EngineSettings
from scaispeak.speak.engines.base import EngineVoice, Pcm
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.provenance.watermark import shared_watermarker
from scaispeak.speak.synthesis.audio import integrated_loudness
from scaispeak.speak.synthesis.inference import InferencePool, Priority, inference_pool
from scaispeak.speak.synthesis.openings import VoiceLevels
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.text import Segment
from tests.speak.synthesis.test_inference import until

VOICE = "en_US-joe-medium"
RATE = 22_050


def tone(seconds: float, amplitude: float, rate: int = RATE) -> Pcm:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def test_a_voice_level_is_learned_from_whole_segments_and_moves_slowly() -> None:
    levels = VoiceLevels(target_lufs=-20.0)
    assert levels.gain("e", "v") is None
    first = levels.learn("e", "v", tone(1.0, 0.1), RATE)
    assert levels.gain("e", "v") == first
    louder = levels.learn("e", "v", tone(1.0, 0.4), RATE)  # 12 dB louder: needs 12 dB less
    assert first - 12 < louder < first - 2  # moved towards it, not all the way
    assert levels.learn("e", "v", np.zeros(RATE, np.float32), RATE) == louder  # silence: no news
    assert levels.gain("e", "other") is None


async def test_an_unknown_voice_level_makes_the_first_opening_whole(
    pipeline: SynthesisPipeline,
) -> None:
    segment = Segment("Good morning to you,", "clause")
    first = await pipeline.open_segment(segment, "piper", VOICE, 1.0, head_seconds=0.25)
    assert first is not None and first.opening is None
    assert first.head.size == first.samples  # made whole, to learn the level
    assert (await pipeline.finish_segment(first)).size == 0
    assert pipeline.levels.gain("piper", VOICE) == pytest.approx(first.gain_db)


async def opened_audio(pipeline: SynthesisPipeline, text: str, *, watermark: bool) -> Pcm:
    segment = Segment(text, "sentence")
    opened = await pipeline.open_segment(
        segment, "piper", VOICE, 1.0, head_seconds=0.25, watermark=watermark
    )
    assert opened is not None and opened.opening is not None
    assert 0.25 <= opened.head.size / RATE < 0.3
    whole = np.concatenate([opened.head, await pipeline.finish_segment(opened)])
    assert whole.size == opened.samples
    return whole


async def test_an_opened_segment_joins_levelled_and_marked(pipeline: SynthesisPipeline) -> None:
    warm = Segment("A first sentence teaches the level.", "sentence")
    learning = await pipeline.open_segment(warm, "piper", VOICE, 1.0, head_seconds=0.25)
    assert learning is not None
    text = "The quick brown fox jumps over the lazy dog, twice."
    plain = await opened_audio(pipeline, text, watermark=False)
    assert np.abs(plain).max() <= 10 ** (-1 / 20)  # the limiter's ceiling holds in both pieces
    # The gain is the voice's, not this segment's: near the target, not on it (docs).
    assert abs(integrated_loudness(plain, RATE) - EngineSettings().target_lufs) < 3.0
    assert pipeline.levels.gain("piper", VOICE) != learning.gain_db  # learned from it too
    marked = await opened_audio(pipeline, text, watermark=True)
    assert np.abs(marked).max() <= 10 ** (-1 / 20)  # limited again after marking
    assert shared_watermarker().is_marked(marked, RATE)
    assert not shared_watermarker().is_marked(plain, RATE)


class ToneEngine:
    name = "tone"
    sample_rate = RATE

    def voices(self) -> list[EngineVoice]:
        return []

    def warm(self) -> None:
        pass

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> Pcm:
        return tone(0.5, 0.3)


async def test_an_engine_that_cannot_open_says_so() -> None:
    pool = InferencePool(1)
    pipeline = SynthesisPipeline(
        EngineRegistry([ToneEngine()]), pool, EngineSettings(), SpeakMetrics(CollectorRegistry())
    )
    try:
        segment = Segment("Hello there.", "sentence")
        assert await pipeline.open_segment(segment, "tone", "v", 1.0, head_seconds=0.2) is None
    finally:
        pool.shutdown()


async def test_no_opening_while_every_inference_thread_is_taken(
    pipeline: SynthesisPipeline,
) -> None:
    segment = Segment("Hello there, how are you?", "clause")
    pipeline.levels.learn("piper", VOICE, tone(1.0, 0.1), RATE)
    busy, started = threading.Event(), threading.Semaphore(0)

    def hold_a_thread() -> None:
        started.release()
        busy.wait(10)

    blockers = [asyncio.create_task(pipeline.pool.run(hold_a_thread)) for _ in range(2)]
    try:
        for _ in range(2):
            assert await asyncio.to_thread(started.acquire, timeout=10)
        assert await pipeline.open_segment(segment, "piper", VOICE, 1.0, head_seconds=0.25) is None
    finally:
        busy.set()
        await asyncio.gather(*blockers)
    opened = await pipeline.open_segment(segment, "piper", VOICE, 1.0, head_seconds=0.25)
    assert opened is not None and opened.opening is not None


class HeldCall:
    """A long call (a Kokoro job segment, say) holding an inference thread until let go."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self._go = threading.Event()

    def run(self) -> None:
        self.started.set()
        self._go.wait(60)

    def let_go(self) -> None:
        self._go.set()


@pytest.fixture
async def default_pipeline(engines: EngineRegistry) -> AsyncIterator[SynthesisPipeline]:
    """The pool as deployed by default: two threads, one reserved for first audio."""
    pool = inference_pool(EngineSettings())
    assert (pool.threads, pool.reserved) == (2, 1)
    pipeline = SynthesisPipeline(engines, pool, EngineSettings(), SpeakMetrics(CollectorRegistry()))
    pipeline.levels.learn("piper", VOICE, tone(1.0, 0.1), RATE)  # so openings are not made whole
    yield pipeline
    pool.shutdown()


async def test_no_opening_while_bulk_work_holds_the_only_unreserved_thread(
    default_pipeline: SynthesisPipeline,
) -> None:
    pipeline, held = default_pipeline, HeldCall()
    job_segment = asyncio.create_task(pipeline.pool.run(held.run, priority=Priority.BULK))
    try:
        assert await asyncio.to_thread(held.started.wait, 10)
        # The reserved thread is idle, but the rest could not use it: made whole instead.
        segment = Segment("Good morning to you,", "clause")
        assert await pipeline.open_segment(segment, "piper", VOICE, 1.0, head_seconds=0.25) is None
    finally:
        held.let_go()
        await job_segment


async def test_work_arriving_while_the_head_is_sent_waits_for_the_rest(
    default_pipeline: SynthesisPipeline,
) -> None:
    pipeline, held = default_pipeline, HeldCall()
    segment = Segment("The quick brown fox jumps over the lazy dog, twice.", "sentence")
    opened = await pipeline.open_segment(segment, "piper", VOICE, 1.0, head_seconds=0.25)
    assert opened is not None and opened.opening is not None
    # A job's next segment arrives while the head is sent: it must not take the thread
    # the rest needs, or the listener hears the head and then nothing for seconds.
    job_segment = asyncio.create_task(pipeline.pool.run(held.run, priority=Priority.BULK))
    try:
        await until(lambda: pipeline.pool.queued == 1)
        # Had the job segment taken the thread, the rest would wait out its 60 s.
        rest = await asyncio.wait_for(pipeline.finish_segment(opened), 10)
        assert opened.head.size + rest.size == opened.samples
    finally:
        held.let_go()
        await job_segment


async def test_a_rest_never_asked_for_gives_its_thread_back_once_the_head_has_played(
    default_pipeline: SynthesisPipeline,
) -> None:
    pipeline = default_pipeline
    segment = Segment("The quick brown fox jumps over the lazy dog, twice.", "sentence")
    opened = await pipeline.open_segment(segment, "piper", VOICE, 1.0, head_seconds=0.25)
    assert opened is not None and opened.opening is not None  # then the listener barged in
    ran: list[str] = []
    await asyncio.wait_for(pipeline.pool.run(ran.append, "next stream's segment"), 10)
    assert ran == ["next stream's segment"]
