"""CloneEngine: speaks fitted voices intelligibly, caches them (LRU), refuses unknown ones."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from scaispeak.settings import CloningSettings
from scaispeak.speak.engines.base import Engine, UnknownEngineVoice
from scaispeak.speak.engines.cloning import BlobVersionMismatch, CloneEngine, VoiceBlob
from scaispeak.speak.engines.cloning.styles import StyleSpace
from scaispeak.speak.engines.cloning.world import WorldConversion
from scaispeak.speak.engines.kokoro import KokoroEngine
from tests.support.asr import transcribe, word_error_rate

SETTINGS = CloningSettings(cache_size=2)


def _blob(space: StyleSpace, weights: dict[str, float], world: WorldConversion | None) -> bytes:
    return VoiceBlob(
        model_version=SETTINGS.model_version,
        tables_fingerprint=space.fingerprint,
        voices=space.names,
        weights=np.array([weights.get(name, 0.0) for name in space.names], np.float32),
        offset=np.full(256, 0.01, np.float32),
        world=world,
        reference_embedding=np.zeros(256, np.float32),
        validation_base=0.0,
        validation_clone=0.0,
        nearest_stock="kokoro:jm_kumo",
        fit_seconds=0.0,
    ).to_bytes()


class CountingLoader:
    """Serves blobs from a dict and counts reads, as storage would be read."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        self.reads: list[str] = []

    def __call__(self, voice_id: str) -> bytes | None:
        self.reads.append(voice_id)
        return self.blobs.get(voice_id)


@pytest.fixture(scope="module")
def blobs(space: StyleSpace) -> dict[str, bytes]:
    pitch_up = WorldConversion(np.log(180.0), 0.15, 1.05)
    return {
        "voc_a": _blob(space, {"jm_kumo": 0.6, "jf_alpha": 0.4}, None),
        "voc_b": _blob(space, {"jf_nezumi": 1.0}, None),
        "voc_c": _blob(space, {"jm_kumo": 1.0}, pitch_up),
    }


def test_clone_engine_is_an_engine(kokoro: KokoroEngine) -> None:
    engine = CloneEngine(kokoro, CountingLoader({}))
    assert isinstance(engine, Engine)
    assert (engine.name, engine.sample_rate) == ("clone", 24_000)
    assert engine.voices() == []


def test_speech_through_a_world_conversion_is_intelligible(
    kokoro: KokoroEngine, blobs: dict[str, bytes]
) -> None:
    engine = CloneEngine(kokoro, CountingLoader(blobs), SETTINGS)
    text = "Please leave the parcel with the neighbour at number twelve."
    pcm = engine.synthesize(text, "voc_c")
    assert pcm.dtype == np.float32 and pcm.ndim == 1
    assert word_error_rate(text, transcribe(pcm, engine.sample_rate)) <= 0.1


def test_cache_keeps_the_most_recently_used_voices(
    kokoro: KokoroEngine, blobs: dict[str, bytes]
) -> None:
    loader = CountingLoader(blobs)
    engine = CloneEngine(kokoro, loader, SETTINGS)
    engine.preload("voc_a")
    engine.preload("voc_b")
    engine.preload("voc_a")  # a is now the most recent; b the least
    assert loader.reads == ["voc_a", "voc_b"]
    engine.preload("voc_c")  # over capacity (2): b goes
    assert engine.cached() == ["voc_a", "voc_c"]
    engine.preload("voc_b")
    assert loader.reads == ["voc_a", "voc_b", "voc_c", "voc_b"]
    assert engine.cached() == ["voc_c", "voc_b"]


def test_evict_drops_a_voice_so_the_next_use_reloads_it(
    kokoro: KokoroEngine, blobs: dict[str, bytes]
) -> None:
    loader = CountingLoader(blobs)
    engine = CloneEngine(kokoro, loader, SETTINGS)
    engine.warm("voc_a")
    engine.evict("voc_a")
    engine.evict("voc_never_loaded")
    assert engine.cached() == []
    engine.preload("voc_a")
    assert loader.reads == ["voc_a", "voc_a"]


def test_an_evict_during_a_load_is_not_undone_by_the_load(
    kokoro: KokoroEngine, blobs: dict[str, bytes]
) -> None:
    reading, release = threading.Event(), threading.Event()

    def slow_storage(voice_id: str) -> bytes:
        reading.set()
        assert release.wait(10)
        return blobs[voice_id]

    engine = CloneEngine(kokoro, slow_storage, SETTINGS)
    loading = threading.Thread(target=engine.preload, args=("voc_a",))
    loading.start()
    assert reading.wait(10)
    engine.evict("voc_a")  # refitted or revoked while the old blob was being read
    release.set()
    loading.join(10)
    assert engine.cached() == []  # the old fit must not come back
    engine.preload("voc_a")  # a load that no evict overlapped is cached as before
    assert engine.cached() == ["voc_a"]


def test_a_voice_the_loader_lacks_is_unknown(kokoro: KokoroEngine) -> None:
    def raising(voice_id: str) -> bytes:
        raise KeyError(voice_id)

    for loader in (CountingLoader({}), raising):
        engine = CloneEngine(kokoro, loader, SETTINGS)
        with pytest.raises(UnknownEngineVoice):
            engine.synthesize("Hello.", "voc_missing")
        assert engine.cached() == []


def test_a_blob_from_another_fitter_asks_for_a_rebuild(
    kokoro: KokoroEngine, blobs: dict[str, bytes]
) -> None:
    engine = CloneEngine(kokoro, CountingLoader(blobs), CloningSettings(model_version="next"))
    with pytest.raises(BlobVersionMismatch):
        engine.synthesize("Hello.", "voc_a")
