"""The style-search fitter, on a speaker made from two stock voices.

The search budget here is tiny (a handful of evaluations) so the test stays fast; the
benchmark (bench/clone.py) measures the real budget. Similarity is always judged on
audio the fit never saw: the speaker reading other words, the clone reading others.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from scaispeak.settings import CloningSettings
from scaispeak.speak.engines.cloning import (
    CloneEngine,
    FitReport,
    ReferenceRejected,
    SpeakerEncoder,
    StockVoices,
    StyleSearchFitter,
    VoiceBlob,
    VoiceFitter,
    cosine,
)
from scaispeak.speak.engines.kokoro import KokoroEngine
from scaispeak.speak.engines.piper import PiperEngine
from tests.support.asr import transcribe, word_error_rate
from tests.support.speakers import Speaker

SPEAKER = Speaker("alpha+kumo", {"jf_alpha": 0.5, "jm_kumo": 0.5})
REFERENCE = (
    "When the morning train pulled into the station, the platform was already crowded. "
    "A porter wheeled a cart of suitcases past the ticket office."
)
HELD_OUT = "The library closes at nine on weekdays and at five on Saturdays."
SPOKEN = "We planted tomatoes and beans along the garden fence yesterday."
SETTINGS = CloningSettings(
    time_budget_s=90.0, max_evaluations=6, validation_stages=2, world_min_gain=0.0
)


@pytest.fixture(scope="module")
def fitter(kokoro: KokoroEngine, encoder: SpeakerEncoder, stock: StockVoices) -> StyleSearchFitter:
    return StyleSearchFitter(kokoro, encoder, SETTINGS, stock=stock)


@pytest.fixture(scope="module")
def report(fitter: StyleSearchFitter, kokoro: KokoroEngine, piper: PiperEngine) -> FitReport:
    pcm, rate = SPEAKER.say(REFERENCE, kokoro, piper)
    return fitter.fit_report(pcm, rate)


@pytest.fixture(scope="module")
def clone(report: FitReport, kokoro: KokoroEngine) -> np.ndarray:
    engine = CloneEngine(kokoro, {"voc_1": report.blob.to_bytes()}.get, SETTINGS)
    return engine.synthesize(SPOKEN, "voc_1")


def test_fitter_is_a_voice_fitter(fitter: StyleSearchFitter) -> None:
    assert isinstance(fitter, VoiceFitter)


def test_the_fitters_version_names_the_stock_tables_it_mixes(fitter: StyleSearchFitter) -> None:
    """The engine refuses a blob made for other stock tables (an upgraded Kokoro voices
    package); with the tables in the version, such voices are evicted and fitted again
    at start-up, instead of failing every use."""
    assert fitter.version.startswith(SETTINGS.model_version)
    assert fitter.space.fingerprint in fitter.version


def test_a_blob_says_which_version_it_answers_to(
    fitter: StyleSearchFitter, report: FitReport
) -> None:
    assert fitter.version_of(report.blob.to_bytes()) == fitter.version
    other = replace(report.blob, tables_fingerprint="0123456789abcdef").to_bytes()
    assert fitter.version_of(other) not in (None, fitter.version)
    assert fitter.version_of(b"not a blob") is None


def test_clone_sounds_more_like_the_speaker_than_the_farthest_stock_voice(
    report: FitReport,
    clone: np.ndarray,
    kokoro: KokoroEngine,
    piper: PiperEngine,
    encoder: SpeakerEncoder,
) -> None:
    held_out = encoder.embed(*SPEAKER.say(HELD_OUT, kokoro, piper))
    cloned = cosine(encoder.embed(clone, kokoro.sample_rate), held_out)
    kokoro_stock = {k: v for k, v in report.stock_similarity.items() if k.startswith("kokoro:")}
    farthest = min(kokoro_stock, key=kokoro_stock.__getitem__).partition(":")[2]
    uncloned = cosine(encoder.embed(kokoro.synthesize(SPOKEN, farthest), 24_000), held_out)
    print(f"\nheld-out similarity: clone {cloned:.3f}, farthest stock ({farthest}) {uncloned:.3f}")
    assert cloned > uncloned + 0.05
    assert cloned >= 0.75


def test_fit_chooses_on_held_out_audio_and_keeps_its_budget(report: FitReport) -> None:
    assert report.evaluations <= SETTINGS.max_evaluations
    assert "base" in report.validation
    assert report.blob.validation_clone >= max(report.validation.values()) - 1e-9
    stock = report.stock_similarity
    assert report.blob.nearest_stock == max(stock, key=stock.__getitem__)
    assert report.blob.fit_seconds < SETTINGS.time_budget_s + 30
    assert report.conversion is not None  # the WORLD step ran (kept or not)


def test_cloned_speech_is_intelligible(clone: np.ndarray) -> None:
    assert word_error_rate(SPOKEN, transcribe(clone, 24_000)) <= 0.1


def test_blob_is_what_fit_returns(report: FitReport) -> None:
    blob = VoiceBlob.from_bytes(
        report.blob.to_bytes(),
        model_version=SETTINGS.model_version,
        tables_fingerprint=report.blob.tables_fingerprint,
    )
    assert blob.weights.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("seconds", [2.0, 31.0])
def test_reference_of_the_wrong_length_is_rejected(
    fitter: StyleSearchFitter, seconds: float
) -> None:
    rate = 16_000
    noise = np.random.default_rng(0).normal(0, 0.1, int(seconds * rate)).astype(np.float32)
    with pytest.raises(ReferenceRejected, match="reference is"):
        fitter.fit(noise, rate)


def test_silent_reference_is_rejected(fitter: StyleSearchFitter) -> None:
    with pytest.raises(ReferenceRejected, match="too little speech"):
        fitter.fit(np.zeros(8 * 16_000, np.float32), 16_000)


def test_silence_after_the_speech_is_not_held_out(
    fitter: StyleSearchFitter, kokoro: KokoroEngine, piper: PiperEngine
) -> None:
    """Speech then 8 s of silence passed preflight, and the held-out last 40 % was all
    silence: "too little speech", after the consent challenge was spent (helper-82)."""
    pcm, rate = SPEAKER.say(REFERENCE, kokoro, piper)
    padded = np.concatenate([np.zeros(rate, np.float32), pcm, np.zeros(8 * rate, np.float32)])
    targets = fitter._targets(padded, rate)
    assert cosine(targets.fit, targets.held_out) > 0.6  # both halves are the speaker


@pytest.mark.slow
def test_full_budget_clone_of_an_outside_speaker_beats_the_nearest_kokoro_voice(
    kokoro: KokoroEngine, piper: PiperEngine, encoder: SpeakerEncoder, stock: StockVoices
) -> None:
    """Piper's joe is outside Kokoro's style space: the search must still close distance."""
    speaker = Speaker("joe")
    fitter = StyleSearchFitter(kokoro, encoder, CloningSettings(), stock=stock)
    report = fitter.fit_report(*speaker.say(REFERENCE + " " + HELD_OUT, kokoro, piper))
    engine = CloneEngine(kokoro, {"voc_joe": report.blob.to_bytes()}.get)
    held_out = encoder.embed(*speaker.say(SPOKEN, kokoro, piper))
    kokoro_stock = {k: v for k, v in report.stock_similarity.items() if k.startswith("kokoro:")}
    nearest = max(kokoro_stock, key=kokoro_stock.__getitem__).partition(":")[2]
    other = "Our team finished the project two weeks ahead of schedule."
    cloned = cosine(encoder.embed(engine.synthesize(other, "voc_joe"), 24_000), held_out)
    uncloned = cosine(encoder.embed(kokoro.synthesize(other, nearest), 24_000), held_out)
    assert cloned > uncloned + 0.03
