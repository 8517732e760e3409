"""Loudness (ITU-R BS.1770-4), the peak limiter, and levelling speech to a target.

All functions take and return mono float32 PCM (:data:`Pcm`) and never modify their
input in place. Loudness follows BS.1770-4 (K-weighting, 400 ms gating blocks with
75 % overlap, absolute −70 LUFS and relative −10 LU gates). Levelling runs on every
segment before the listener hears it, so it is kept to a few vectorised passes: one
IIR cascade for K-weighting, O(n) running minima and box filters for the limiter, the
loudness after limiting worked out from the limited spans (not measured again), and
no work at all for audio that is already at the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import sosfilt

from scaispeak.speak.engines.base import Pcm

_F64 = npt.NDArray[np.float64]

PEAK_CEILING_DBFS = -1.0
"""Sample peak that :func:`normalize_loudness` never exceeds."""
MAX_GAIN_DB = 20.0
"""Largest boost :func:`normalize_loudness` applies, so near-silence is not blown up."""

_BLOCK_S = 0.4  # BS.1770 gating block length
_STEP_S = 0.1  # 75 % overlap between blocks
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0
_LIMITER_S = 0.005  # limiter look-ahead/release radius: short enough to be inaudible on speech
_K_TAIL_S = 0.2  # K-weighting's impulse response is below 1e-15 of its peak after this
_LEVEL_TOLERANCE_LU = 0.1  # closer than this to the target counts as levelled
# Levelled audio that went through int16 or a codec since (a relayed ScaiSpeak's, which
# is limited after resampling) may sit a hair over the ceiling: not worth limiting again.
# Resampling alone overshoots by up to ~0.2 dB, more than this: it is limited again.
_PEAK_TOLERATED = 10.0 ** ((PEAK_CEILING_DBFS + 0.1) / 20.0)
# The limiter's target: a hair under the ceiling so rounding to float32 cannot push a
# peak above it.
_CEILING = 10.0 ** (PEAK_CEILING_DBFS / 20.0) * 0.99999


def _k_weighting_biquads(rate: int) -> tuple[tuple[_F64, _F64], tuple[_F64, _F64]]:
    """(b, a) of the two K-weighting stages, derived for any rate from the analogue prototype.

    These are libebur128's formulas; at 48 kHz they reproduce the coefficient tables
    printed in BS.1770-4 to about 1e-9, and other rates get the same frequency response
    instead of reusing 48 kHz coefficients.
    """
    # Stage 1: high shelf (+4 dB above ~1.7 kHz) modelling the head's acoustic effect.
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = np.array([vh + vb * k / q + k * k, 2.0 * (k * k - vh), vh - vb * k / q + k * k]) / a0
    shelf_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    # Stage 2: RLB high-pass at ~38 Hz.
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return (shelf_b, shelf_a), (hp_b, hp_a)


def _k_sections(rate: int) -> _F64:
    """The two K-weighting biquads as one second-order-sections array (``sosfilt``)."""
    return np.array([np.concatenate(stage) for stage in _k_weighting_biquads(rate)])


def _k_weight(pcm: Pcm, rate: int) -> _F64:
    """K-weighted copy of ``pcm`` (float64): the two BS.1770 biquads as one IIR cascade."""
    return np.asarray(sosfilt(_k_sections(rate), pcm.astype(np.float64)), dtype=np.float64)


def _block_layout(samples: int, rate: int) -> tuple[npt.NDArray[np.intp], int]:
    """Start of each 400 ms gating block (one every 100 ms) and the block length.

    A clip shorter than one block is measured as a single block over its full length,
    so short TTS utterances still get a finite loudness (BS.1770 itself leaves that
    case undefined).
    """
    block = round(_BLOCK_S * rate)
    if samples < block:
        return np.zeros(1, dtype=np.intp), max(samples, 1)
    return np.arange(0, samples - block + 1, round(_STEP_S * rate)), block


def _block_powers(weighted: _F64, rate: int) -> _F64:
    """Mean square of each gating block of the K-weighted signal."""
    starts, block = _block_layout(weighted.size, rate)
    cumulative = np.concatenate(([0.0], np.cumsum(weighted**2)))
    ends = np.minimum(starts + block, weighted.size)
    powers: _F64 = (cumulative[ends] - cumulative[starts]) / block
    return powers


def _lufs(power: float) -> float:
    return -0.691 + 10.0 * math.log10(power) if power > 0.0 else -math.inf


def _gated_loudness(powers: _F64) -> float:
    """Integrated loudness (LUFS) from block powers: the absolute, then relative gate."""
    absolute_threshold = 10.0 ** ((_ABSOLUTE_GATE_LUFS + 0.691) / 10.0)
    gated = powers[powers > absolute_threshold]
    if gated.size == 0:
        return -math.inf
    relative_threshold = float(np.mean(gated)) * 10.0 ** (_RELATIVE_GATE_LU / 10.0)
    gated = gated[gated > relative_threshold]
    return _lufs(float(np.mean(gated)))


def integrated_loudness(pcm: Pcm, rate: int) -> float:
    """Integrated loudness in LUFS per ITU-R BS.1770-4 (mono); ``-inf`` for silence."""
    if pcm.size == 0:
        return -math.inf
    return _gated_loudness(_block_powers(_k_weight(pcm, rate), rate))


def _powers_after_limiting(
    weighted: _F64, powers: _F64, gain: float, change: _Change, rate: int
) -> _F64:
    """Block powers of ``gain * clip`` after the limiter changed it, from the clip's own
    K-weighted signal and block powers and the limiter's changes alone.

    K-weighting is linear, so K(gain * clip + d) = gain * K(clip) + K(d), where d (the
    limiter's change) is zero outside its spans. K(d) starts from rest at each span
    and dies out within :data:`_K_TAIL_S` of its end, so only the blocks overlapping a
    span or its tail differ from ``gain**2 * powers``: those are corrected, the rest
    scaled. Equal to measuring the limited clip again (to float rounding), at the cost
    of filtering the spans instead of the whole clip.
    """
    starts, block = _block_layout(weighted.size, rate)
    out: _F64 = powers * gain**2
    sections = _k_sections(rate)
    tail = round(_K_TAIL_S * rate)
    for first, stop in _merged([(a, min(weighted.size, b + tail)) for a, b in change.spans]):
        before = gain * weighted[first:stop]
        after = before + sosfilt(sections, change.limited[first:stop] - change.scaled[first:stop])
        added = np.concatenate(([0.0], np.cumsum(after**2 - before**2)))
        touched = np.flatnonzero((starts < stop) & (starts + block > first))
        lows = np.clip(starts[touched], first, stop) - first
        highs = np.clip(starts[touched] + block, first, stop) - first
        out[touched] += (added[highs] - added[lows]) / block
    return out


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted [start, stop) spans with the overlapping ones joined."""
    joined: list[tuple[int, int]] = []
    for start, stop in spans:
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], stop))
        else:
            joined.append((start, stop))
    return joined


def _running_min(values: _F64, radius: int) -> _F64:
    """Minimum over ``[i - radius, i + radius]`` for each ``i`` (van Herk/Gil-Werman, O(n))."""
    width = 2 * radius + 1
    padded = np.pad(values, (radius, radius + (-values.size - 2 * radius) % width), "edge")
    blocks = padded.reshape(-1, width)
    prefix = np.minimum.accumulate(blocks, axis=1).ravel()
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(suffix[: values.size], prefix[width - 1 : width - 1 + values.size])


def _moving_average(values: _F64, width: int) -> _F64:
    """Mean of each run of ``width`` values ("valid" mode: ``width - 1`` fewer outputs)."""
    cumulative = np.concatenate(([0.0], np.cumsum(values)))
    averaged: _F64 = (cumulative[width:] - cumulative[:-width]) / width
    return averaged


def _limit_peaks(pcm: _F64, rate: int, ceiling: float) -> _F64:
    """Smooth look-ahead limiter: no sample exceeds ``ceiling`` after it.

    The needed per-sample gain is spread by a running minimum of radius r and then
    smoothed by two box filters of r + 1 samples (a triangular window of radius r):
    every output gain is an average of minima whose windows all cover that sample, so
    it never exceeds the gain the sample needs. Box filters are two cumulative sums,
    several times cheaper than a windowed convolution.

    A sample's gain depends only on samples within 2r of it, so the gain is 1 farther
    than that from any overshoot: only the spans around overshoots are worked on (a
    levelled, marked or resampled segment has a few, and this is most of its cost).
    """
    return _limit(pcm, rate, ceiling).limited


@dataclass(frozen=True)
class _Change:
    """What the limiter did: ``limited`` equals ``scaled`` outside ``spans``."""

    scaled: _F64
    limited: _F64
    spans: list[tuple[int, int]]


def _limit(pcm: _F64, rate: int, ceiling: float) -> _Change:
    """:func:`_limit_peaks`, also saying where it worked (no spans: ``pcm`` itself)."""
    magnitude = np.abs(pcm)
    if magnitude.size == 0 or float(magnitude.max()) <= ceiling:
        return _Change(pcm, pcm, [])
    radius = max(1, round(_LIMITER_S * rate))
    out = pcm.copy()
    spans = _spans_around(np.flatnonzero(magnitude > ceiling), 4 * radius, pcm.size)
    for start, stop in spans:
        out[start:stop] = _limit_span(pcm[start:stop], magnitude[start:stop], radius, ceiling)
    return _Change(pcm, out, spans)


def _spans_around(indices: npt.NDArray[np.intp], margin: int, size: int) -> list[tuple[int, int]]:
    """Disjoint [start, stop) spans covering ``margin`` samples either side of each index."""
    breaks = np.flatnonzero(np.diff(indices) > 2 * margin)
    firsts = indices[np.concatenate(([0], breaks + 1))]
    lasts = indices[np.concatenate((breaks, [indices.size - 1]))]
    return [
        (max(0, int(first) - margin), min(size, int(last) + margin + 1))
        for first, last in zip(firsts, lasts, strict=True)
    ]


def _limit_span(pcm: _F64, magnitude: _F64, radius: int, ceiling: float) -> _F64:
    # The span reaches 4r past its outermost overshoots, so its edges (padded by
    # repetition, as at the clip's ends) see a gain of 1, as they would in the clip.
    needed = np.minimum(1.0, ceiling / np.maximum(magnitude, 1e-12))
    spread = np.pad(_running_min(needed, radius), radius, "edge")
    gain = _moving_average(_moving_average(spread, radius + 1), radius + 1)
    return np.clip(pcm * gain, -ceiling, ceiling)  # clip only absorbs float rounding


def normalize_loudness(pcm: Pcm, rate: int, target_lufs: float) -> Pcm:
    """Scale ``pcm`` to ``target_lufs``, then limit peaks to −1 dBFS.

    The boost is capped at :data:`MAX_GAIN_DB` so silence or a bare noise floor is not
    amplified absurdly; silence is returned unchanged. Limiting lowers the loudness a
    little, so the gain is corrected and the limiter re-run once; the limited audio's
    loudness is worked out from the limiter's spans (``_powers_after_limiting``), not
    measured over the whole clip again. Audio already within 0.1 LU of the target
    whose peaks overshoot the ceiling by under 0.1 dB (an upstream that levels, a
    segment levelled and resampled before) is returned unchanged after one measurement.
    """
    if pcm.size == 0:
        return pcm.copy()
    weighted = _k_weight(pcm, rate)
    powers = _block_powers(weighted, rate)
    measured = _gated_loudness(powers)
    if not math.isfinite(measured):
        return pcm.copy()
    ceiling = _CEILING
    if abs(target_lufs - measured) < _LEVEL_TOLERANCE_LU and _peak(pcm) <= _PEAK_TOLERATED:
        return pcm.copy()
    source = pcm.astype(np.float64)
    gain_db = min(target_lufs - measured, MAX_GAIN_DB)
    change = _limit(source * 10.0 ** (gain_db / 20.0), rate, ceiling)
    for _ in range(2):
        if not change.spans:
            break  # the limiter left it alone: the gain is exact
        gain = 10.0 ** (gain_db / 20.0)
        limited = _powers_after_limiting(weighted, powers, gain, change, rate)
        shortfall = target_lufs - _gated_loudness(limited)
        if abs(shortfall) < _LEVEL_TOLERANCE_LU or gain_db >= MAX_GAIN_DB:
            break
        gain_db = min(gain_db + shortfall, MAX_GAIN_DB)
        change = _limit(source * 10.0 ** (gain_db / 20.0), rate, ceiling)
    return change.limited.astype(np.float32)


def level_gain_db(pcm: Pcm, rate: int, target_lufs: float) -> float | None:
    """The gain (capped at :data:`MAX_GAIN_DB`) that brings ``pcm`` to ``target_lufs``
    before limiting; None for silence."""
    measured = integrated_loudness(pcm, rate)
    if not math.isfinite(measured):
        return None
    return min(target_lufs - measured, MAX_GAIN_DB)


def apply_gain(pcm: Pcm, rate: int, gain_db: float) -> Pcm:
    """``pcm`` scaled by ``gain_db``, then limited to −1 dBFS: levelling with a gain known
    beforehand (a piece of a segment, levelled before the rest of it exists)."""
    scaled: _F64 = pcm.astype(np.float64) * 10.0 ** (gain_db / 20.0)
    return _limit_peaks(scaled, rate, _CEILING).astype(np.float32)


def limit_to_ceiling(pcm: Pcm, rate: int) -> Pcm:
    """``pcm`` with its peaks limited to −1 dBFS, or ``pcm`` itself when none overshoot:
    for audio changed after levelling (a watermark adds peaks of up to ~+0.7 dB)."""
    if _peak(pcm) <= _CEILING:
        return pcm
    return _limit_peaks(pcm.astype(np.float64), rate, _CEILING).astype(np.float32)


def _peak(pcm: Pcm) -> float:
    return float(np.max(np.abs(pcm))) if pcm.size else 0.0
