"""A listener waiting for first audio gets the segment's head before the rest is made."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from scaispeak.settings import EngineSettings, StreamingSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.provenance.watermark import shared_watermarker
from scaispeak.speak.streaming.protocol import StartMessage
from scaispeak.speak.streaming.session import StreamSession
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.openings import OpenedSegment
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.service import StreamSpec
from tests.speak.streaming.session_rig import MemorySink
from tests.support.asr import transcribe, word_error_rate

RATE = 16_000
TEXT = "Good morning to you, the weather today is sunny with a light breeze from the west."


class Watched(SynthesisPipeline):
    """Records what the listener had received before each rest was made; ``hold``
    cleared keeps the rest from being made."""

    def __init__(self, *args: Any, sink: MemorySink, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sink = sink
        self.received_before_rest: list[int] = []
        self.hold = asyncio.Event()
        self.hold.set()

    async def finish_segment(self, opened: OpenedSegment, *, lane: object = None) -> Any:
        # The head's frames are queued before the rest is asked for; the sender hands
        # them over while the rest is made (here: while we wait for them).
        await self.sink.wait_for(self.sink.audio_bytes)
        self.received_before_rest.append(self.sink.audio_bytes())
        await self.hold.wait()
        return await super().finish_segment(opened, lane=lane)


@pytest.fixture
async def watched(engines: EngineRegistry) -> AsyncIterator[Watched]:
    pool = InferencePool(2)
    pipeline = Watched(
        engines, pool, EngineSettings(), SpeakMetrics(CollectorRegistry()), sink=MemorySink()
    )
    pipeline.levels.learn(  # the voice's level, as an earlier stream would have taught it
        "piper",
        "en_US-joe-medium",
        engines.get("piper").synthesize("Hello.", "en_US-joe-medium"),
        22_050,  # type: ignore[union-attr]
    )
    yield pipeline
    pool.shutdown()


def session_for(pipeline: Watched) -> StreamSession:
    spec = StreamSpec("voc_j", "piper", "en_US-joe-medium", AudioFormat.pcm, RATE, watermark=True)

    async def open_stream(start: StartMessage) -> StreamSpec:
        return spec

    return StreamSession(
        pipeline.sink,
        pipeline,
        StreamingSettings(first_audio_head_ms=250),
        open_stream,
        stream_id="str_h",
        transport="test",
    )


async def send(session: StreamSession, kind: str, **fields: Any) -> None:
    await session.receive(json.dumps({"type": kind, **fields}))


async def test_the_head_is_heard_before_the_rest_is_made(watched: Watched) -> None:
    sink = watched.sink
    async with session_for(watched) as session:
        await send(session, "start", voice_id="voc_j")
        await send(session, "text", text=TEXT)
        await send(session, "end")
        assert await asyncio.wait_for(session.wait_closed(), 60) == 1000
    assert watched.received_before_rest[0] > 0  # the head went out first
    assert watched.received_before_rest[0] / 2 / RATE < 0.3  # and it was only the head
    audio = b"".join(m for m in sink.sent if isinstance(m, bytes))
    # Every segment's announced length is exactly what was sent for it.
    assert round(sum(s["audio_seconds"] for s in sink.events("segment")) * RATE) == len(audio) // 2
    pcm = np.frombuffer(audio, "<i2").astype(np.float32) / 32768
    assert word_error_rate(TEXT, transcribe(pcm, RATE, beam_size=5)) <= 0.15
    assert shared_watermarker().is_marked(pcm, RATE)
    done = sink.events("done")[0]["usage"]
    spoken = sum(segment["characters"] for segment in sink.events("segment"))
    assert done["characters"] == spoken and done["audio_seconds"] == len(audio) / 2 / RATE


async def test_a_cancel_while_the_rest_is_made_bills_the_head_only(watched: Watched) -> None:
    sink = watched.sink
    watched.hold.clear()
    async with session_for(watched) as session:
        await send(session, "start", voice_id="voc_j")
        await send(session, "text", text=TEXT)
        await sink.wait_for(lambda: watched.received_before_rest)
        await send(session, "cancel")
        await sink.wait_for(lambda: sink.events("cancelled"))
        watched.hold.set()
        await asyncio.sleep(0.2)
        at = sink.sent.index(sink.events("cancelled")[0])
        assert not any(isinstance(m, bytes) for m in sink.sent[at:])  # the rest never went out
        cancelled = sink.events("cancelled")[0]
        delivered = sink.audio_bytes() // 2
        assert cancelled["audio_seconds"] == delivered / RATE
        announced = round(sink.events("segment")[0]["audio_seconds"] * RATE)
        characters = sink.events("segment")[0]["characters"]
        assert 0 < cancelled["characters"] == characters * delivered // announced < characters
