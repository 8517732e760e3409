"""A robust, compact fingerprint of a clip, and matching one clip against another.

The watermark says *that* a clip is ours; the fingerprint says *which* clip. Each 16 ms
frame of the clip (at 8 kHz, so resampling to 16 kHz or a codec's high band changes
nothing) becomes one 32-bit word: bit ``b`` is the sign of how the energy difference
between bands ``b`` and ``b + 1`` (33 log-spaced bands, 300-3400 Hz, 256 ms windows)
changed since the previous frame. Signs of energy differences ignore gain, and coarse
bands with long windows barely move under mp3 at 64 kbps or Opus.

Matching finds frames whose words agree exactly (enough survive re-encoding), takes the
most common offset between them, and measures the bit error rate (BER) over the
aligned frames: unrelated audio agrees on half the bits (BER 0.5), the same clip after
re-encoding on far more. Quiet frames are word 0 and never count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.synthesis.audio import resample

RATE = 8_000
WINDOW = 2_048
HOP = 128
BANDS = 33
LOW_HZ, HIGH_HZ = 300.0, 3_400.0
QUIET_DB = -50.0
"""Frames this far below the clip's loudest frame are silence: word 0, never compared."""
MATCH_MAX_BER = 0.30
"""A pair of aligned fingerprints at or below this bit error rate is the same clip."""
_MIN_ALIGNED = 32
_PAIRS_PER_WORD = 8

Words = npt.NDArray[np.uint32]


def frames_per_second() -> float:
    return RATE / HOP


def _band_edges() -> npt.NDArray[np.int64]:
    hz = np.geomspace(LOW_HZ, HIGH_HZ, BANDS + 1)
    return np.round(hz * WINDOW / RATE).astype(np.int64)


_BLOCK_FRAMES = 256
"""Frames transformed at once: bounds memory (a 2 MB block) however long the clip."""


def _band_energies(pcm8k: Pcm) -> npt.NDArray[np.float64]:
    count = 1 + (pcm8k.size - WINDOW) // HOP
    edges = _band_edges()
    window = np.hanning(WINDOW)
    blocks = []
    for first in range(0, count, _BLOCK_FRAMES):
        starts = HOP * np.arange(first, min(count, first + _BLOCK_FRAMES))
        frames = pcm8k[np.arange(WINDOW)[None, :] + starts[:, None]] * window
        spectrum = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        low = spectrum[:, edges[0] : edges[-1]]
        blocks.append(np.add.reduceat(low, edges[:-1] - edges[0], axis=1))
    return np.concatenate(blocks).astype(np.float64)


def fingerprinted_part(pcm: Pcm, rate: int, max_seconds: float) -> Pcm:
    """The part of ``pcm`` that the fingerprint of its first ``max_seconds`` reads (a
    view): keeping only this is enough to fingerprint the clip later."""
    return pcm[: int(max_seconds * rate) + WINDOW * rate // RATE]


def fingerprint(pcm: Pcm, rate: int, max_seconds: float | None = None) -> Words:
    """One 32-bit word per 16 ms frame of ``pcm`` (the first ``max_seconds`` of it)."""
    if max_seconds is not None:
        pcm = fingerprinted_part(pcm, rate, max_seconds)
    pcm8k = resample(pcm.astype(np.float32), rate, RATE) if rate != RATE else pcm
    if pcm8k.size < WINDOW + HOP:
        return np.zeros(0, np.uint32)
    energies = _band_energies(pcm8k) + 1e-12
    level = 10 * np.log10(energies.sum(axis=1))
    contrast = np.diff(np.log(energies), axis=1)  # band b minus band b+1, gain-free
    bits = (np.diff(contrast, axis=0) < 0).astype(np.uint32)  # (frames - 1, 32)
    words = (bits << np.arange(BANDS - 1, dtype=np.uint32)).sum(axis=1).astype(np.uint32)
    loud = level[1:] >= level.max() + QUIET_DB
    words[~loud] = 0
    words[loud & (words == 0)] = 1  # 0 means quiet; a loud all-zero word becomes 1
    return np.asarray(words, dtype=np.uint32)


def to_bytes(words: Words) -> bytes:
    return words.astype("<u4").tobytes()


def from_bytes(data: bytes) -> Words:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


@dataclass(frozen=True)
class Match:
    ber: float
    """Bit error rate over the aligned loud frames (0.5 for unrelated audio)."""
    offset_s: float
    """Where the query starts inside the stored clip."""
    frames: int

    @property
    def matched(self) -> bool:
        return self.frames >= _MIN_ALIGNED and self.ber <= MATCH_MAX_BER


def _candidate_offsets(query: Words, stored: Words) -> list[int]:
    """Offsets (stored index minus query index) where exact words agree, most common first.

    Each loud query word pairs with the first ``_PAIRS_PER_WORD`` stored frames holding
    the same word, found by binary search in the stored words sorted (stably) by value:
    a lookup compares a query against thousands of stored clips, and pairing in Python
    took 8 ms a pair of 120 s clips."""
    s_words, s_frames = _by_word(stored)
    q_words, q_frames = _by_word(query)  # sorted lookups search three times faster
    first = np.searchsorted(s_words, q_words, side="left")
    pairs = np.minimum(np.searchsorted(s_words, q_words, side="right") - first, _PAIRS_PER_WORD)
    deltas = np.concatenate(
        [s_frames[first[pairs > k] + k] - q_frames[pairs > k] for k in range(_PAIRS_PER_WORD)]
    )
    offsets: list[int] = []
    if deltas.size:
        values, counts = np.unique(deltas, return_counts=True)
        offsets = values[np.argsort(-counts)][:3].tolist()
    # A whole clip re-encoded starts where the stored one does, give or take a codec delay.
    return offsets + [d for d in range(-4, 5) if d not in offsets]


def _by_word(words: Words) -> tuple[Words, npt.NDArray[np.int64]]:
    """The loud words sorted by value, and their frames (ascending for equal words)."""
    frames = np.flatnonzero(words)
    order = np.argsort(words[frames], kind="stable")
    return words[frames][order], frames[order]


def _ber_at(query: Words, stored: Words, offset: int) -> tuple[float, int]:
    start_q, start_s = max(0, -offset), max(0, offset)
    length = min(query.size - start_q, stored.size - start_s)
    if length <= 0:
        return 0.5, 0
    q = query[start_q : start_q + length]
    s = stored[start_s : start_s + length]
    both = (q != 0) & (s != 0)
    n = int(both.sum())
    if n == 0:
        return 0.5, 0
    errors = np.bitwise_count(q[both] ^ s[both]).sum()
    return float(errors) / (n * (BANDS - 1)), n


def match(query: Words, stored: Words) -> Match:
    """The best alignment of ``query`` inside ``stored`` and its bit error rate."""
    best = Match(0.5, 0.0, 0)
    if query.size == 0 or stored.size == 0:
        return best
    for offset in _candidate_offsets(query, stored):
        ber, frames = _ber_at(query, stored, offset)
        if frames >= _MIN_ALIGNED and ber < best.ber:
            best = Match(ber, offset / frames_per_second(), frames)
    return best


SPEED_CHANGES = tuple(round(0.90 + 0.01 * step, 2) for step in range(21))
"""Speed factors a clip may have been changed by (0.90 to 1.10; 1.00 among them).
Resampled by a few percent and played at its old rate, our own speech matched nothing
(a 1.5 % speed-up: BER 0.25 to 0.35; 3 %: 0.45) and lost its watermark, so it passed
as a person's consent. A clip read at each factor's rate undoes such a change: BER 0.0
at 3 % and 5 %, where unrelated speech stays near 0.48; half a step off, 0.12 to 0.16."""


def fingerprints_at_speeds(pcm: Pcm, rate: int) -> list[Words]:
    """``pcm``'s fingerprint as if played at each of ``SPEED_CHANGES``' speeds: one of
    them lines up with a stored clip that was sped up or slowed down by that much."""
    return [fingerprint(pcm, round(rate / factor)) for factor in SPEED_CHANGES]
