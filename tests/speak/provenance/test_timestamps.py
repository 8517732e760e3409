"""Word timestamps: estimated (and said so), monotonic, continuous across segments; an
engine that knows where its words are is believed (Piper does, from its durations);
streams carry them on segment events."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from scaispeak.settings import EngineSettings, StreamingSettings
from scaispeak.speak.engines.base import EngineVoice, Pcm, Priority, TimedPcm
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.provenance.watermark import shared_watermarker
from scaispeak.speak.streaming.protocol import StartMessage
from scaispeak.speak.streaming.session import StreamSession
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.service import StreamSpec
from scaispeak.speak.synthesis.speech import SpeechSpec
from scaispeak.speak.synthesis.timestamps import estimate_words, timeline
from tests.conftest import LiveApp
from tests.speak.provenance.conftest import decoded

TEXT = "It costs $42.50 today. Then we walk home, slowly, under the rain."


def assert_monotonic_and_gapless(words: list[dict[str, Any]], total_s: float) -> None:
    starts = [w["start"] for w in words]
    assert starts == sorted(starts)
    for word in words:
        assert 0 <= word["start"] < word["end"] <= total_s + 1e-3
    for before, after in itertools.pairwise(words):
        assert after["start"] >= before["end"] - 1e-3  # never overlapping


def test_speech_is_shared_by_spoken_length_inside_the_trimmed_speech() -> None:
    rate = 1000
    pcm = np.concatenate([np.zeros(500), 0.5 * np.ones(2000), np.zeros(500)]).astype(np.float32)
    words = estimate_words("a $42", pcm, rate)
    assert words[0].start_s == 0.5 and words[-1].end_s == 2.5  # silence trimmed
    # "$42" is spoken as "forty-two dollars": it takes far longer than "a".
    assert (words[1].end_s - words[1].start_s) > 10 * (words[0].end_s - words[0].start_s)


def test_timeline_continues_across_segments_and_their_pauses() -> None:
    rate = 1000
    one = 0.5 * np.ones(1000, np.float32)
    words, estimated = timeline(
        [("first part", one, 250.0, None), ("second", one, 0.0, None)], rate
    )
    assert estimated is True
    assert [w.word for w in words] == ["first", "part", "second"]
    assert words[2].start_s == 1.25 and words[2].end_s == 2.25


@dataclass
class TimedTone:
    """A stand-in engine that knows where each word is (like a duration predictor):
    0.1 s of tone per letter, 0.05 s of silence between words."""

    name: str = "timed"
    sample_rate: int = 8000
    calls: list[str] = field(default_factory=list)

    def voices(self) -> list[EngineVoice]:
        return []

    def warm(self) -> None:
        pass

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> Pcm:
        return self.synthesize_timed(text, voice, speed=speed).pcm

    def synthesize_timed(self, text: str, voice: str, *, speed: float = 1.0) -> TimedPcm:
        spans, clock = [], 0.0
        for word in text.split():
            spans.append((clock, clock + 0.1 * len(word)))
            clock += 0.1 * len(word) + 0.05
        t = np.arange(int(clock * self.sample_rate)) / self.sample_rate
        return TimedPcm((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), tuple(spans))


@dataclass
class TimedAsyncTone(TimedTone):
    """The same, awaited (like the torch VITS engine behind its batcher)."""

    name: str = "timed-async"

    async def synthesize_async(
        self,
        text: str,
        voice: str,
        *,
        speed: float = 1.0,
        priority: Priority = Priority.NORMAL,
        admitted: bool = False,
    ) -> Pcm:
        return self.synthesize(text, voice, speed=speed)

    async def synthesize_timed_async(
        self,
        text: str,
        voice: str,
        *,
        speed: float = 1.0,
        priority: Priority = Priority.NORMAL,
        admitted: bool = False,
    ) -> TimedPcm:
        return self.synthesize_timed(text, voice, speed=speed)


@pytest.mark.parametrize("engine", [TimedTone(), TimedAsyncTone()], ids=["sync", "async"])
def test_an_engine_that_knows_its_durations_is_believed(engine: TimedTone) -> None:
    pool = InferencePool(1)
    pipeline = SynthesisPipeline(
        EngineRegistry([engine]), pool, EngineSettings(), SpeakMetrics(CollectorRegistry())
    )
    spec = SpeechSpec("Hello big world.", engine.name, "v", AudioFormat.wav, 8000, timestamps=True)
    try:
        clip = asyncio.run(pipeline.render(spec))
    finally:
        pool.shutdown()
    assert clip.words_estimated is False
    assert [(w.word, round(w.start_s, 3), round(w.end_s, 3)) for w in clip.words] == [
        ("Hello", 0.0, 0.5),
        ("big", 0.55, 0.85),
        ("world.", 0.9, 1.5),
    ]


async def test_speak_with_timestamps_answers_json_with_audio_and_piper_placed_words(
    sqlite_app: LiveApp,
) -> None:
    body = {"text": TEXT, "voice_id": "voc_piper_en-us-joe-medium", "format": "wav"}
    response = await sqlite_app.client.post(
        "/v1/modules/scaispeak/speak?timestamps=true",
        json=body,
        headers=sqlite_app.auth(sqlite_app.tenancy.member_a),
    )
    assert response.status_code == 200, response.text
    timed = response.json()
    pcm, rate = decoded(base64.b64decode(timed["audio_base64"]))
    # Piper places its words from its own durations: not an estimate.
    assert timed["estimated"] is False and timed["content_type"] == "audio/wav"
    assert timed["duration_s"] == round(pcm.size / rate, 3)
    assert [w["word"] for w in timed["words"]] == TEXT.split()
    assert_monotonic_and_gapless(timed["words"], timed["duration_s"])
    # Two sentences: the second starts after the first sentence's pause.
    then = next(w for w in timed["words"] if w["word"] == "Then")
    today = next(w for w in timed["words"] if w["word"] == "today.")
    assert then["start"] - today["end"] >= 0.2


async def test_timestamps_are_refused_for_jobs(sqlite_app: LiveApp) -> None:
    body = {"text": TEXT, "voice_id": "voc_piper_en-us-joe-medium", "mode": "async"}
    response = await sqlite_app.client.post(
        "/v1/modules/scaispeak/speak?timestamps=true",
        json=body,
        headers=sqlite_app.auth(sqlite_app.tenancy.member_a),
    )
    assert response.status_code == 422 and response.json()["code"] == "timestamps_unavailable"


@dataclass
class EventSink:
    sent: list[bytes | dict[str, Any]] = field(default_factory=list)

    async def send_audio(self, data: bytes) -> None:
        self.sent.append(data)

    async def send_event(self, event: dict[str, Any]) -> None:
        self.sent.append(event)


async def test_stream_segments_carry_continuous_words_and_the_audio_is_marked(
    engines: EngineRegistry,
) -> None:
    pool = InferencePool(2)
    pipeline = SynthesisPipeline(engines, pool, EngineSettings(), SpeakMetrics(CollectorRegistry()))
    spec = StreamSpec("voc_j", "piper", "en_US-joe-medium", AudioFormat.pcm, 16000, watermark=True)

    async def open_stream(start: StartMessage) -> StreamSpec:
        return spec

    sink = EventSink()
    session = StreamSession(
        sink, pipeline, StreamingSettings(), open_stream, stream_id="str_t", transport="test"
    )
    try:
        async with session:
            for message in ({"type": "start", "voice_id": "voc_j"}, {"type": "text", "text": TEXT}):
                await session.receive(json.dumps(message))
            await session.receive(json.dumps({"type": "end"}))
            await asyncio.wait_for(session.wait_closed(), 60)
    finally:
        pool.shutdown()
    segments = [m for m in sink.sent if isinstance(m, dict) and m["type"] == "segment"]
    assert len(segments) >= 2
    clock = 0.0
    for segment in segments:
        assert segment["estimated"] is False  # Piper's own durations, opened or whole
        assert segment["start"] == round(clock, 3)  # each starts where the last one ended
        clock += segment["audio_seconds"]
    words = [w for s in segments for w in s["words"]]
    assert [w["word"] for w in words] == TEXT.split()
    assert_monotonic_and_gapless(words, clock)
    audio = b"".join(m for m in sink.sent if isinstance(m, bytes))
    pcm = np.frombuffer(audio, "<i2").astype(np.float32) / 32768
    assert shared_watermarker().is_marked(pcm, 16000)
    assert session.produced is not None and session.produced.watermarked
