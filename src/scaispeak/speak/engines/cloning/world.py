"""WORLD (pyworld) voice conversion: pitch statistics, formant warp, long-term envelope.

A ``WorldConversion`` maps a synthesized voice toward a reference speaker with three
classic, cheap moves: match the mean and spread of log F0, stretch the spectral
envelope along frequency (formants move with vocal tract length), and correct the
long-term average envelope (an equaliser). Analysis and resynthesis cost about a fifth
of real time, and the vocoder adds some buzz, so the fitter keeps a conversion only if
it measurably helps on held-out audio.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

with warnings.catch_warnings():
    # pyworld imports pkg_resources only to read its own version; setuptools warns.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import pyworld

from scaispeak.speak.engines.base import Pcm

FRAME_MS = 5.0
_EQ_LIMIT_DB = 12.0
_EQ_SMOOTH_BINS = 9

Float64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class WorldAnalysis:
    """WORLD's view of a clip: F0 per frame (0 = unvoiced), envelope, aperiodicity."""

    f0: Float64
    envelope: Float64
    aperiodicity: Float64
    rate: int

    @staticmethod
    def of(pcm: Pcm, rate: int) -> WorldAnalysis:
        x = np.asarray(pcm, dtype=np.float64).reshape(-1)
        f0, times = pyworld.dio(x, rate, frame_period=FRAME_MS)
        f0 = pyworld.stonemask(x, f0, times, rate)
        envelope = pyworld.cheaptrick(x, f0, times, rate)
        aperiodicity = pyworld.d4c(x, f0, times, rate)
        return WorldAnalysis(f0, envelope, aperiodicity, rate)

    def log_f0_stats(self) -> tuple[float, float]:
        """Mean and standard deviation of log F0 over voiced frames."""
        voiced = np.log(self.f0[self.f0 > 0])
        if voiced.size < 10:
            return 0.0, 0.0
        return float(voiced.mean()), float(voiced.std())

    def mean_log_envelope(self) -> Float64:
        """The long-term average log envelope over voiced frames (the clip's "colour")."""
        voiced = self.envelope[self.f0 > 0]
        frames = voiced if len(voiced) else self.envelope
        return np.asarray(np.log(frames + 1e-12).mean(axis=0), dtype=np.float64)

    def warped_log_envelope(self, warp: float) -> Float64:
        """``mean_log_envelope`` after a formant warp, without resynthesizing."""
        warped = WorldAnalysis(self.f0, warp_envelope(self.envelope, warp), self.aperiodicity, 0)
        return warped.mean_log_envelope()

    def synthesize(self, f0: Float64, envelope: Float64) -> Pcm:
        audio = pyworld.synthesize(f0, envelope, self.aperiodicity, self.rate, FRAME_MS)
        clipped: Pcm = np.clip(np.asarray(audio, np.float64), -1.0, 1.0).astype(np.float32)
        return clipped


@dataclass(frozen=True)
class WorldConversion:
    """Target pitch statistics, a formant warp factor and an equaliser curve (log units)."""

    log_f0_mean: float
    """Target mean log F0; 0 leaves pitch alone."""
    log_f0_std: float
    warp: float = 1.0
    """> 1 moves formants up (a shorter vocal tract), < 1 down."""
    eq: Float64 | None = None
    """Log-envelope correction per frequency bin at the engine's rate, or None."""

    def apply(self, pcm: Pcm, rate: int) -> Pcm:
        """Convert ``pcm`` (mono, ``rate``) toward the target speaker."""
        if len(pcm) < rate // 10:
            return pcm
        return self.convert(WorldAnalysis.of(pcm, rate), pcm)

    def convert(self, analysis: WorldAnalysis, original: Pcm) -> Pcm:
        """Resynthesize an analysed clip with this conversion (analysis can be reused)."""
        f0 = self.converted_f0(analysis)
        envelope = warp_envelope(analysis.envelope, self.warp)
        if self.eq is not None and self.eq.shape[0] == envelope.shape[1]:
            envelope = envelope * np.exp(self.eq)[np.newaxis, :]
        converted = analysis.synthesize(f0, envelope)
        # Keep the loudness: the pipeline levels segments, but a similarity score should
        # not move because the vocoder changed the gain.
        return match_rms(converted, original)

    def converted_f0(self, analysis: WorldAnalysis) -> Float64:
        f0 = analysis.f0.copy()
        mean, std = analysis.log_f0_stats()
        if self.log_f0_mean == 0.0 or mean == 0.0:
            return f0
        voiced = f0 > 0
        scale = self.log_f0_std / std if std > 0 else 1.0
        f0[voiced] = np.exp((np.log(f0[voiced]) - mean) * scale + self.log_f0_mean)
        return f0


def warp_envelope(envelope: Float64, warp: float) -> Float64:
    """Stretch each frame's envelope along frequency: new(f) = old(f / warp)."""
    if warp == 1.0:
        return envelope
    bins = np.arange(envelope.shape[1], dtype=np.float64)
    source = np.clip(bins / warp, 0, envelope.shape[1] - 1)
    return np.stack([np.interp(source, bins, frame) for frame in envelope])


def equaliser(target: Float64, current: Float64) -> Float64:
    """A smooth, bounded correction that moves ``current``'s long-term envelope to ``target``."""
    difference = target - current
    kernel = np.hanning(_EQ_SMOOTH_BINS + 2)[1:-1]
    smooth = np.convolve(difference, kernel / kernel.sum(), mode="same")
    limit = _EQ_LIMIT_DB / 20 * np.log(10)  # dB of amplitude in natural-log units
    # The envelope is a power spectrum: its log moves twice as fast as the amplitude's.
    return np.asarray(np.clip(smooth, -2 * limit, 2 * limit), dtype=np.float64)


def match_rms(audio: Pcm, like: Pcm) -> Pcm:
    target = float(np.sqrt(np.mean(np.square(like)))) if len(like) else 0.0
    current = float(np.sqrt(np.mean(np.square(audio)))) if len(audio) else 0.0
    if current == 0.0:
        return audio
    scaled: Pcm = np.clip(audio * np.float32(target / current), -1.0, 1.0).astype(np.float32)
    return scaled
