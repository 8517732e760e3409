"""Clips for the provenance tests, rendered once per test session through the real pipeline.

``stock`` clips are Piper's joe and Kokoro voices spoken with the watermark off (clean
synthetic speech); ``marked`` are the same texts spoken with it on. ``recordings`` are
clean clips made to sound like microphone recordings (room echo, noise, level), and a
harmonic voice-like tone: audio the service never made.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from scaispeak.settings import EngineSettings
from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.synthesis.audio import AudioFormat, encode, resample
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import SpeechSpec
from scaispeak.speak.voices.audio_input import decode_audio

# Fixtures of other test packages these tests reuse: the voice-intake app (challenges
# draw a fixed phrase; joe's clips) and the module's real uvicorn stream server.
from tests.speak.streaming.conftest import stream_server  # noqa: F401
from tests.speak.voices.conftest import clips, sqlite_voice_app  # noqa: F401

TEXTS = (
    "The quick brown fox jumps over the lazy dog, then runs into the forest.",
    "Please remember to bring an umbrella tomorrow; the forecast says rain all day.",
)
VOICES = (("piper", "en_US-joe-medium"), ("kokoro", "jf_alpha"))


@dataclass(frozen=True)
class Clip:
    name: str
    pcm: Pcm
    rate: int


def decoded(data: bytes) -> tuple[Pcm, int]:
    audio = decode_audio(data, max_seconds=120, timeout_s=20)
    return audio.pcm, audio.rate


def mp3_64k(pcm: Pcm, rate: int) -> tuple[Pcm, int]:
    """MP3 at 64 kbps exactly (our own mp3 encoder picks its bit rate itself)."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=rate)
        stream.bit_rate = 64_000
        stream.layout = "mono"
        ints = (np.clip(pcm, -1, 1) * 32767).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(ints, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return decoded(out.getvalue())


def opus(pcm: Pcm, rate: int) -> tuple[Pcm, int]:
    return decoded(encode(resample(pcm, rate, 48_000), 48_000, AudioFormat.opus))


def to_16k(pcm: Pcm, rate: int) -> tuple[Pcm, int]:
    return resample(pcm, rate, 16_000), 16_000


def louder_6db(pcm: Pcm, rate: int) -> tuple[Pcm, int]:
    return np.clip(pcm * 10 ** (6 / 20), -1, 1).astype(np.float32), rate


def quieter_6db(pcm: Pcm, rate: int) -> tuple[Pcm, int]:
    return (pcm * 10 ** (-6 / 20)).astype(np.float32), rate


TRANSFORMS: dict[str, Callable[[Pcm, int], tuple[Pcm, int]]] = {
    "none": lambda pcm, rate: (pcm, rate),
    "mp3_64k": mp3_64k,
    "opus": opus,
    "resample_16k": to_16k,
    "gain_+6dB": louder_6db,
    "gain_-6dB": quieter_6db,
}


@pytest.fixture(scope="session")
def pipeline(engines: EngineRegistry) -> Iterator[SynthesisPipeline]:
    pool = InferencePool(2)
    yield SynthesisPipeline(engines, pool, EngineSettings(), SpeakMetrics(CollectorRegistry()))
    pool.shutdown()


def render(pipeline: SynthesisPipeline, text: str, engine: str, voice: str, mark: bool) -> Clip:
    import asyncio

    rate = pipeline.engines.get(engine).sample_rate
    spec = SpeechSpec(text, engine, voice, AudioFormat.wav, rate, watermark=mark)
    clip = asyncio.run(pipeline.render(spec))
    pcm, decoded_rate = decoded(clip.data)
    return Clip(f"{engine}/{text[:12]}", pcm, decoded_rate)


@pytest.fixture(scope="session")
def stock(pipeline: SynthesisPipeline) -> list[Clip]:
    return [render(pipeline, t, e, v, False) for t in TEXTS for e, v in VOICES]


@pytest.fixture(scope="session")
def marked(pipeline: SynthesisPipeline) -> list[Clip]:
    return [render(pipeline, t, e, v, True) for t in TEXTS for e, v in VOICES]


def in_a_room(pcm: Pcm, rate: int, seed: int) -> Pcm:
    """A small room (decaying noise impulse response), mains hum and hiss."""
    rng = np.random.default_rng(seed)
    n = int(0.25 * rate)
    response = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.04 * rate))
    response[0] = 1.0
    wet = np.convolve(pcm, response / np.abs(response).sum() * 4)[: pcm.size]
    t = np.arange(pcm.size) / rate
    hum = 0.003 * np.sin(2 * np.pi * 50 * t)
    out = 0.5 * wet + hum + 0.002 * rng.standard_normal(pcm.size)
    return np.clip(out, -1, 1).astype(np.float32)


def _hummed_vowels(rate: int, seconds: float) -> Pcm:
    """A voice-like source: a gliding, vibrato pitch with harmonics shaped like vowels."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.3 * t) + 3 * np.sin(2 * np.pi * 5.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    formant = 1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)
    voice = sum(np.sin(k * phase) / k * (1 + formant * (k % 3 == 0)) for k in range(1, 25))
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.1 * voice * syllables).astype(np.float32)


@pytest.fixture(scope="session")
def recordings(stock: list[Clip]) -> list[Clip]:
    roomy = [
        Clip(f"room/{c.name}", in_a_room(c.pcm, c.rate, i), c.rate) for i, c in enumerate(stock)
    ]
    return [*roomy, Clip("hummed-vowels", _hummed_vowels(16_000, 6.0), 16_000)]
