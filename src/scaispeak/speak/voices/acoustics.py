"""Measurements on decoded speech: voice activity, levels, noise floor, clipping.

Voice activity comes from WebRTC's VAD (``webrtcvad-wheels``, maintained wheels of
Google's detector): 30 ms frames at 16 kHz, aggressiveness 2 (of 0-3), which ignores
steady hum and hiss yet keeps soft consonants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr
import webrtcvad

from scaispeak.speak.engines.base import Pcm

ANALYSIS_RATE = 16_000
FRAME_MS = 30
FRAME_SAMPLES = ANALYSIS_RATE * FRAME_MS // 1000
VAD_AGGRESSIVENESS = 2
FLOOR_DBFS = -100.0
"""Digital silence is reported as this level rather than minus infinity."""
CLIP_LEVEL = 0.99
"""A sample this close to full scale counts as clipped."""


@dataclass(frozen=True)
class SpeechProfile:
    """What the level and activity analysis of one clip found."""

    speech_frames: int
    total_frames: int
    speech_level_dbfs: float
    noise_floor_dbfs: float

    @property
    def speech_ratio(self) -> float:
        return self.speech_frames / self.total_frames if self.total_frames else 0.0

    @property
    def speech_seconds(self) -> float:
        return self.speech_frames * FRAME_MS / 1000

    @property
    def snr_db(self) -> float:
        return self.speech_level_dbfs - self.noise_floor_dbfs


def to_analysis_rate(pcm: Pcm, rate: int) -> Pcm:
    if rate == ANALYSIS_RATE:
        return pcm
    return np.asarray(soxr.resample(pcm, rate, ANALYSIS_RATE), dtype=np.float32)


def clipped_fraction(pcm: Pcm) -> float:
    """Share of sample instants at (or within 1% of) full scale (``clipped_instants``)."""
    if pcm.size == 0:
        return 0.0
    return clipped_instants(pcm) / len(pcm)


def clipped_instants(pcm: Pcm) -> int:
    """Sample instants at (or within 1% of) full scale; for ``(samples, channels)``
    audio, those where any channel is, since averaging would hide a clipped channel."""
    peaks = np.abs(pcm) if pcm.ndim == 1 else np.max(np.abs(pcm), axis=1)
    return int(np.count_nonzero(peaks >= CLIP_LEVEL))


def speech_mask(pcm16k: Pcm) -> npt.NDArray[np.bool_]:
    """One boolean per 30 ms frame: did the VAD hear speech in it?"""
    frames = pcm16k.size // FRAME_SAMPLES
    if frames == 0:
        return np.zeros(0, dtype=bool)
    ints = (np.clip(pcm16k[: frames * FRAME_SAMPLES], -1.0, 1.0) * 32767).astype("<i2")
    vad = webrtcvad.Vad(VAD_AGGRESSIVENESS)
    raw = ints.tobytes()
    step = FRAME_SAMPLES * 2
    return np.array(
        [vad.is_speech(raw[i * step : (i + 1) * step], ANALYSIS_RATE) for i in range(frames)],
        dtype=bool,
    )


def frame_levels_dbfs(pcm16k: Pcm) -> npt.NDArray[np.float64]:
    frames = pcm16k.size // FRAME_SAMPLES
    blocks = pcm16k[: frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES).astype(np.float64)
    rms = np.sqrt(np.mean(blocks**2, axis=1))
    with np.errstate(divide="ignore"):
        levels = 20.0 * np.log10(rms)
    floored: npt.NDArray[np.float64] = np.maximum(levels, FLOOR_DBFS)
    return floored


def profile_speech(pcm16k: Pcm) -> SpeechProfile:
    """Speech share, the typical level of speech, and the level of everything else."""
    mask = speech_mask(pcm16k)
    if mask.size == 0:
        return SpeechProfile(0, 0, FLOOR_DBFS, FLOOR_DBFS)
    levels = frame_levels_dbfs(pcm16k)
    speech, rest = levels[mask], levels[~mask]
    speech_level = float(np.median(speech)) if speech.size else FLOOR_DBFS
    # Without enough pauses to measure, the quietest tenth of all frames stands in for
    # the floor: a clip of wall-to-wall speech still shows its noise between syllables.
    noise = float(np.median(rest)) if rest.size >= 10 else float(np.percentile(levels, 10))
    return SpeechProfile(int(mask.sum()), int(mask.size), speech_level, noise)
