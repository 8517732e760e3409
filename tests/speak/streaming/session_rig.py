"""A StreamSession's test rig: a stand-in engine whose calls can be held, an in-memory sink."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scaispeak.settings import StreamingSettings
from scaispeak.speak.engines.base import EngineError, EngineVoice, Pcm
from scaispeak.speak.streaming.ports import Coverage
from scaispeak.speak.streaming.protocol import StartMessage
from scaispeak.speak.streaming.session import StreamSession
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.service import StreamSpec

RATE = 8000
SENTENCES = " ".join(f"Sentence number {n} is right here." for n in range(1, 21))


class HeldEngine:
    """Speaks a tone 50 ms per character; calls from number ``hold_from`` on wait for ``gate``."""

    name = "held"
    sample_rate = RATE

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.hold_from = 10**9
        self.gate = threading.Event()

    def voices(self) -> list[EngineVoice]:
        return []

    def warm(self) -> None:
        pass

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> Pcm:
        self.calls.append(text)
        if "boom" in text:
            raise EngineError("the stand-in engine was asked to fail")
        if len(self.calls) > self.hold_from:
            self.gate.wait(timeout=10)
        t = np.arange(int(0.05 * len(text) * RATE)) / RATE
        return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@dataclass
class MemorySink:
    """Keeps everything sent, in order. ``gate`` cleared makes audio sends wait (a slow
    reader); ``reading`` cleared makes every send wait (a client that stopped reading)."""

    sent: list[bytes | dict[str, Any]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    reading: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()
        self.reading.set()

    async def send_audio(self, data: bytes) -> None:
        await self.gate.wait()
        await self.reading.wait()
        self.sent.append(data)

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.reading.wait()
        self.sent.append(event)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.sent if isinstance(m, dict) and kind in (None, m["type"])]

    def audio_bytes(self) -> int:
        return sum(len(m) for m in self.sent if isinstance(m, bytes))

    async def wait_for(self, found: Callable[[], object]) -> None:
        """Wait until ``found()`` holds; it may depend on pool threads, so poll."""
        for _ in range(500):
            if found():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")


@dataclass
class Rig:
    engine: HeldEngine
    pool: InferencePool
    pipeline: SynthesisPipeline
    sink: MemorySink

    def session(
        self,
        coverage: Coverage | None = None,
        fmt: AudioFormat = AudioFormat.pcm,
        **settings: Any,
    ) -> StreamSession:
        spec = StreamSpec("voc_held", "held", "tone", fmt, RATE)

        async def open_stream(start: StartMessage) -> StreamSpec:
            return spec

        streaming = StreamingSettings(**settings)
        return StreamSession(
            self.sink,
            self.pipeline,
            streaming,
            open_stream,
            stream_id="str_t",
            transport="test",
            coverage=coverage,
        )


async def send(session: StreamSession, kind: str, **fields: Any) -> None:
    await session.receive(json.dumps({"type": kind, **fields}))
