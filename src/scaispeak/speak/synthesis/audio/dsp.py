"""Sample-level audio helpers: resampling, silence, fades, crossfades, joining, int16
conversion.

All functions take and return mono float32 PCM (:data:`Pcm`) and never modify their
input in place. Loudness and levelling live in :mod:`.loudness`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import soxr

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.synthesis.audio.loudness import limit_to_ceiling

_F64 = npt.NDArray[np.float64]


def resample(pcm: Pcm, from_rate: int, to_rate: int) -> Pcm:
    """Resample with soxr's high-quality filter; returns the input unchanged when rates match."""
    if from_rate == to_rate:
        return pcm
    if pcm.size == 0:
        return np.zeros(0, dtype=np.float32)
    out = soxr.resample(pcm, from_rate, to_rate, quality="HQ")
    return np.asarray(out, dtype=np.float32)


class StreamResampler:
    """:func:`resample` for audio that arrives in pieces: the pieces' outputs join into
    exactly the samples one call on the whole would give (soxr's stream keeps its
    filter state across the cut)."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self._stream = (
            None
            if from_rate == to_rate
            else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality="HQ")
        )

    def piece(self, pcm: Pcm, *, last: bool) -> Pcm:
        if self._stream is None:
            return pcm
        out = self._stream.resample_chunk(np.ascontiguousarray(pcm, np.float32), last=last)
        return np.asarray(out, dtype=np.float32)


def resampled_length(samples: int, from_rate: int, to_rate: int) -> int:
    """How many samples :func:`resample` returns for ``samples`` input samples.

    soxr's own arithmetic, in doubles: ``samples / (from_rate / to_rate) + 0.5``, floored.
    Where the exact length ends in a half sample, ``round(samples * to_rate / from_rate)``
    went the other way in a few cases (24 kHz to 22.05 kHz, 240 samples: 220 vs 221).
    """
    if from_rate == to_rate:
        return samples
    return math.floor(samples / (from_rate / to_rate) + 0.5)


def silence(ms: float, rate: int) -> Pcm:
    """Return ``ms`` milliseconds of digital silence at ``rate``."""
    return np.zeros(_ms_to_samples(ms, rate), dtype=np.float32)


def _ms_to_samples(ms: float, rate: int) -> int:
    return max(0, round(ms * rate / 1000.0))


def _fade_ramp(length: int) -> _F64:
    """Raised-cosine ramp rising from 0 towards 1 over ``length`` samples."""
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(length) + 0.5) / length)


def fade_edges(pcm: Pcm, rate: int, ms: float = 5.0) -> Pcm:
    """Copy of ``pcm`` with raised-cosine fade-in and fade-out of ``ms`` each.

    Segments from an engine rarely start and end at a zero crossing; a few
    milliseconds of fade removes the click where they are joined. Clips shorter than
    two fades get fades of half their length.
    """
    length = min(_ms_to_samples(ms, rate), pcm.size // 2)
    return _faded(pcm, length, start=True, end=True)


def fade_in(pcm: Pcm, rate: int, ms: float = 5.0) -> Pcm:
    """Copy of ``pcm`` with :func:`fade_edges`' fade at its start only (a segment's head)."""
    return _faded(pcm, min(_ms_to_samples(ms, rate), pcm.size), start=True, end=False)


def fade_out(pcm: Pcm, rate: int, ms: float = 5.0) -> Pcm:
    """Copy of ``pcm`` with :func:`fade_edges`' fade at its end only (a segment's rest)."""
    return _faded(pcm, min(_ms_to_samples(ms, rate), pcm.size), start=False, end=True)


def _faded(pcm: Pcm, length: int, *, start: bool, end: bool) -> Pcm:
    out = pcm.astype(np.float32, copy=True)
    if length > 0:
        ramp = _fade_ramp(length).astype(np.float32)
        if start:
            out[:length] *= ramp
        if end:
            out[-length:] *= ramp[::-1]
    return out


def crossfade_into(before: Pcm, after: Pcm) -> Pcm:
    """Copy of ``after`` whose first ``min(len(before), len(after))`` samples fade over
    from ``before``: raised-cosine gains that sum to one, for two renderings of the same
    audio (correlated, so it is their amplitudes, not their powers, that must add up)."""
    length = min(before.size, after.size)
    out = after.astype(np.float32, copy=True)
    if length > 0:
        ramp = _fade_ramp(length)
        mixed = before[:length] * (1.0 - ramp) + after[:length] * ramp
        out[:length] = mixed.astype(np.float32)
    return out


def join_segments(parts: list[tuple[Pcm, float]], rate: int, fade_ms: float = 5.0) -> Pcm:
    """Concatenate faded segments, each followed by its pause in milliseconds.

    The output is allocated once (zeros, so pauses need no writes) and each segment
    copied into place, avoiding the quadratic cost of repeated concatenation.
    Negative pauses are treated as zero.
    """
    pauses = [_pause_samples(pause_ms, rate) for _, pause_ms in parts]
    out = np.zeros(joined_length([(pcm.size, ms) for pcm, ms in parts], rate), np.float32)
    position = 0
    for (pcm, _), pause in zip(parts, pauses, strict=True):
        out[position : position + pcm.size] = fade_edges(pcm, rate, fade_ms)
        position += pcm.size + pause
    return out


def joined_length(parts: list[tuple[int, float]], rate: int) -> int:
    """Samples :func:`join_segments` returns for parts of these (samples, pause_ms)."""
    return sum(samples + _pause_samples(pause_ms, rate) for samples, pause_ms in parts)


def _pause_samples(pause_ms: float, rate: int) -> int:
    return _ms_to_samples(max(0.0, pause_ms), rate)


def from_int16_bytes(data: bytes) -> Pcm:
    """Signed 16-bit little-endian bytes (an even number of them) as float32 in [-1, 1)."""
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def to_int16_bytes(pcm: Pcm) -> bytes:
    """Signed 16-bit little-endian bytes: clipped to [-1, 1], scaled by 32767, rounded."""
    return to_int16(pcm).astype("<i2", copy=False).tobytes()


def to_int16(pcm: Pcm) -> npt.NDArray[np.int16]:
    """Clip to [-1, 1], scale by 32767 and round to (native-order) int16 samples."""
    scaled: _F64 = np.rint(np.clip(pcm, -1.0, 1.0) * 32767.0, dtype=np.float64)
    return scaled.astype(np.int16)


def shape_segment(pcm: Pcm, pause_ms: float, from_rate: int, to_rate: int) -> Pcm:
    """Faded edges (no click at the joins), then the pause, at the output rate.

    The same steps ``render`` takes for a whole clip, one segment at a time (streams,
    and speech sent as it is made); CPU work of a few milliseconds, so callers run it
    off the event loop.
    """
    pause = np.zeros(round(pause_ms * from_rate / 1000), dtype=np.float32)
    shaped = resample(np.concatenate([fade_edges(pcm, from_rate), pause]), from_rate, to_rate)
    # Resampling overshoots between the levelled samples (streams and jobs were up to
    # +0.4 dB over the ceiling at 8-48 kHz): limited again, as a whole clip is.
    return limit_to_ceiling(shaped, to_rate)
