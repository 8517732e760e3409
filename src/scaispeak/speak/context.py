"""Everything the speech module's transports share within one process."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline


@dataclass
class SpeakContext:
    engines: EngineRegistry
    pool: InferencePool
    pipeline: SynthesisPipeline
    metrics: SpeakMetrics


def speak_context(conn: HTTPConnection) -> SpeakContext:
    ctx: SpeakContext = conn.app.state.speak
    return ctx
