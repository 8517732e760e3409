"""The start of a stream's audio, kept for its fingerprint (streams have no whole clip)."""

from __future__ import annotations

import numpy as np

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.provenance import fingerprint as fp


class StreamCapture:
    """Collects the first ``max_seconds`` of a stream's audio at its output rate."""

    def __init__(self, rate: int, max_seconds: float, *, watermarked: bool) -> None:
        self.rate = rate
        self.watermarked = watermarked
        self._limit = int(rate * max_seconds)
        self._kept = 0
        self._parts: list[Pcm] = []
        self.duration_s = 0.0
        """All audio made, not only the part kept (as a delivered clip says it)."""

    def add(self, pcm: Pcm) -> None:
        self.duration_s += pcm.size / self.rate
        room = self._limit - self._kept
        if room > 0:
            self._parts.append(pcm[:room])
            self._kept += min(room, pcm.size)

    def fingerprint(self) -> bytes:
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
        return fp.to_bytes(fp.fingerprint(audio, self.rate))
