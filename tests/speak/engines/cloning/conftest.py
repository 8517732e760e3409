"""Shared, loaded-once models for the cloning tests (Kokoro, Resemblyzer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaispeak.speak.engines.cloning import SpeakerEncoder, StockVoices
from scaispeak.speak.engines.cloning.styles import StyleSpace
from scaispeak.speak.engines.kokoro import KokoroEngine
from scaispeak.speak.engines.piper import PiperEngine


@pytest.fixture(scope="session")
def kokoro(tmp_path_factory: pytest.TempPathFactory) -> KokoroEngine:
    cache: Path = tmp_path_factory.mktemp("clone-kokoro")
    engine = KokoroEngine(cache, intra_op_threads=2)
    engine.warm()
    return engine


@pytest.fixture(scope="session")
def encoder() -> SpeakerEncoder:
    encoder = SpeakerEncoder()
    encoder.warm()
    return encoder


@pytest.fixture(scope="session")
def space(kokoro: KokoroEngine) -> StyleSpace:
    return StyleSpace(kokoro.style_tables())


@pytest.fixture(scope="session")
def piper() -> PiperEngine:
    engine = PiperEngine(intra_op_threads=2)
    engine.warm()
    return engine


@pytest.fixture(scope="session")
def stock(kokoro: KokoroEngine, encoder: SpeakerEncoder, piper: PiperEngine) -> StockVoices:
    """Every stock voice reading the fitter's probe sentence, embedded once per run."""
    voices = StockVoices(kokoro, encoder, (piper,))
    voices.embeddings()
    return voices
