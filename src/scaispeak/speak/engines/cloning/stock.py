"""The stock voices as speakers: each reads a fixed probe sentence once, and is embedded.

The fitter compares a reference with these embeddings to pick the nearest stock voice
(the uncloned baseline, and where the style search starts). They are computed on first
use and kept for the life of the process: six short syntheses, about six seconds.
"""

from __future__ import annotations

import threading

from scaispeak.speak.engines.base import Engine
from scaispeak.speak.engines.cloning.speakers import Embedding, SpeakerEncoder, cosine
from scaispeak.speak.engines.kokoro import KokoroEngine

PROBE_FIT = "I would like to book a table for four people on Friday."
"""What candidate voices say while the search scores them: about three seconds, long
enough for a stable embedding (Resemblyzer averages 1.6 s windows), short enough that
a 45 s budget holds some thirty candidates."""
PROBE_VALIDATE = "Your parcel will arrive between noon and three o'clock."
"""What candidates say when scored on the held-out part: other words, so a style that
only suits the fitting sentence does not win."""


def stock_key(engine: str, voice: str) -> str:
    """How stock voices are named in blobs and reports, e.g. ``kokoro:jm_kumo``."""
    return f"{engine}:{voice}"


class StockVoices:
    """Embeddings of every stock voice reading ``PROBE_FIT``, computed once."""

    def __init__(
        self, kokoro: KokoroEngine, encoder: SpeakerEncoder, others: tuple[Engine, ...] = ()
    ) -> None:
        """``others`` are further engines (Piper) whose voices count as stock voices."""
        self._engines: tuple[Engine, ...] = (kokoro, *others)
        self._encoder = encoder
        self._embeddings: dict[str, Embedding] | None = None
        self._lock = threading.Lock()

    def embeddings(self) -> dict[str, Embedding]:
        with self._lock:
            if self._embeddings is None:
                self._embeddings = {
                    stock_key(engine.name, voice.key): self._encoder.embed(
                        engine.synthesize(PROBE_FIT, voice.key), engine.sample_rate
                    )
                    for engine in self._engines
                    for voice in engine.voices()
                }
            return self._embeddings

    def similarities(self, target: Embedding) -> dict[str, float]:
        """Cosine similarity of each stock voice to ``target``."""
        return {key: cosine(embedding, target) for key, embedding in self.embeddings().items()}
