"""A clip made (``make``: what is charged for), then assembled (``assemble``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from scaispeak.settings import EngineSettings
from scaispeak.speak.engines.base import Engine, EngineVoice, Pcm, Priority
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.provenance.watermark import shared_watermarker
from scaispeak.speak.synthesis.audio import AudioFormat, integrated_loudness
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import SpeechSpec

VOICE = "en_US-joe-medium"
TEXT = "First, a clause. Then a sentence! And a last one?"


class LoudAsyncPiper:
    """An async engine (as the relay is) speaking piper's audio 12 dB too quiet."""

    name = "loud-async"

    def __init__(self, piper: Engine) -> None:
        self._piper = piper
        self.sample_rate = piper.sample_rate

    def voices(self) -> list[EngineVoice]:
        return []

    def warm(self) -> None:
        pass

    async def synthesize_async(
        self,
        text: str,
        voice: str,
        *,
        speed: float = 1.0,
        priority: Priority = Priority.NORMAL,
        admitted: bool = False,
    ) -> Pcm:
        pcm = await asyncio.to_thread(self._piper.synthesize, text, voice, speed=speed)
        return (pcm * 0.25).astype(np.float32)


@pytest.fixture
async def relaying_pipeline(engines: EngineRegistry) -> AsyncIterator[SynthesisPipeline]:
    piper = engines.get("piper")
    assert isinstance(piper, Engine)
    pool = InferencePool(2)
    registry = engines.extended(LoudAsyncPiper(piper))
    yield SynthesisPipeline(registry, pool, EngineSettings(), SpeakMetrics(CollectorRegistry()))
    pool.shutdown()


@pytest.mark.parametrize("engine", ["piper", "loud-async"])
@pytest.mark.parametrize("rate", [16_000, 22_050, 48_000])
async def test_made_speech_knows_the_length_of_the_clip_it_becomes(
    relaying_pipeline: SynthesisPipeline, engine: str, rate: int
) -> None:
    """The charge is worked out from ``made.duration_s`` before the clip exists."""
    made = await relaying_pipeline.make(SpeechSpec(TEXT, engine, VOICE, AudioFormat.pcm, rate))
    assert len(made.segments) == 3
    clip = await relaying_pipeline.assemble(made)
    assert clip.duration_s == len(clip.data) / 2 / rate
    assert abs(clip.duration_s - made.duration_s) <= 1 / rate  # resampling rounds


async def test_an_async_engines_segments_are_levelled_and_marked_where_they_are_joined(
    relaying_pipeline: SynthesisPipeline,
) -> None:
    spec = SpeechSpec(TEXT, "loud-async", VOICE, AudioFormat.pcm, 22_050, watermark=True)
    made = await relaying_pipeline.make(spec)
    assert not made.levelled and made.embed  # as the engine gave them: 12 dB too quiet
    clip = await relaying_pipeline.assemble(made)
    pcm = np.frombuffer(clip.data, "<i2").astype(np.float32) / 32768
    # Each segment is levelled to the target; the pauses and fades between them move
    # the whole clip's measure a little.
    assert abs(integrated_loudness(pcm, 22_050) - EngineSettings().target_lufs) < 1.0
    assert np.abs(pcm).max() <= 10 ** (-1 / 20)
    assert shared_watermarker().is_marked(pcm, 22_050)
    assert clip.watermarked
