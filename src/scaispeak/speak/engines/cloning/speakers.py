"""Speaker embeddings: Resemblyzer's GE2E encoder (it ships its weights), on the CPU.

One encoder per process is enough: it is small (about 17 MB of weights) and an
utterance takes a fraction of a second. Embeddings are unit vectors, so the cosine
similarity of two of them is their dot product.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import soxr

from scaispeak.speak.engines.base import EngineError, Pcm

if TYPE_CHECKING:
    from resemblyzer import VoiceEncoder

Embedding = npt.NDArray[np.float32]
"""A speaker embedding: 256 float32 values with unit L2 norm."""

ENCODER_RATE = 16_000
"""Resemblyzer's encoder works on 16 kHz audio."""


class SpeakerEncoder:
    """Embeds speech as a speaker vector; loads lazily and serves every thread."""

    def __init__(self) -> None:
        self._encoder: VoiceEncoder | None = None
        # torch modules are not documented as safe for concurrent forward passes, and the
        # encoder is fast enough that serialising calls costs nothing we would notice.
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Load the encoder's weights now rather than on the first embedding."""
        with self._lock:
            self._loaded()

    def embed(self, pcm: Pcm, sample_rate: int) -> Embedding:
        """The speaker embedding of mono ``pcm`` at ``sample_rate``.

        Raises ``EngineError`` when the clip holds too little speech to embed.
        """
        audio = np.asarray(pcm, dtype=np.float32).reshape(-1)
        if sample_rate != ENCODER_RATE:
            audio = soxr.resample(audio, sample_rate, ENCODER_RATE).astype(np.float32)
        from resemblyzer import preprocess_wav

        # Levels the volume and drops long pauses (webrtcvad), as the encoder was trained.
        speech = preprocess_wav(audio)
        if len(speech) < ENCODER_RATE // 2:
            raise EngineError("too little speech to compute a speaker embedding")
        with self._lock:
            vector: Any = self._loaded().embed_utterance(speech)
        return np.asarray(vector, dtype=np.float32)

    def _loaded(self) -> VoiceEncoder:
        if self._encoder is None:
            from resemblyzer import VoiceEncoder

            self._encoder = VoiceEncoder("cpu", verbose=False)
        return self._encoder


def cosine(a: Embedding, b: Embedding) -> float:
    """Cosine similarity of two speaker embeddings (1 = same direction)."""
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norm if norm else 0.0
