"""What the synthesis tests share: a pipeline over the real engines."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from scaispeak.settings import EngineSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline


@pytest.fixture
async def pipeline(engines: EngineRegistry) -> AsyncIterator[SynthesisPipeline]:
    pool = InferencePool(2)
    yield SynthesisPipeline(engines, pool, EngineSettings(), SpeakMetrics(CollectorRegistry()))
    pool.shutdown()
