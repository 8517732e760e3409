"""Measurements on decoded speech: voice activity, levels, noise floor, clipping.

Voice activity comes from WebRTC's VAD (``webrtcvad-wheels``, maintained wheels of
Google's detector): 30 ms frames at 16 kHz, aggressiveness 2 (of 0-3), which ignores
steady hum and hiss yet keeps soft consonants. It also calls quiet room tone speech
(pink noise at -55 dBFS), so what needs speech itself (the speaker windows) takes only
frames near the clip's own speech level (``SpeechProfile.voiced``).

Levels are measured on ``without_rumble``: the 16 kHz clip with its mean removed and
high-passed at 40 Hz. A DC offset is no sound, but it sat in every frame's RMS: 0.02 of
offset (-34 dBFS) became a "noise floor" that failed a clean recording's ``noise``. The
VAD hears the clip as it came (its decisions on marginal frames move with any filtering,
and the noise floor's fallback below 10 pauses made that a pass/fail difference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import soxr
import webrtcvad
from scipy.signal import butter, iirnotch, sosfilt, tf2sos, welch

from scaispeak.speak.engines.base import Pcm

ANALYSIS_RATE = 16_000
FRAME_MS = 30
FRAME_SAMPLES = ANALYSIS_RATE * FRAME_MS // 1000
VAD_AGGRESSIVENESS = 2
FLOOR_DBFS = -100.0
"""Digital silence is reported as this level rather than minus infinity."""
CLIP_LEVEL = 0.99
"""A sample this close to full scale counts as clipped."""
HIGH_PASS_HZ = 40.0
"""Below the lowest voice (about 60 Hz): removes DC drift and rumble before levels."""
_HIGH_PASS = butter(2, HIGH_PASS_HZ, btype="highpass", fs=ANALYSIS_RATE, output="sos")
VOICED_MARGIN_DB = 20.0
"""A speech frame counts as voiced within this much of the clip's median speech level."""
MIN_PLATEAU_PEAK = 0.01
"""Below this peak (-40 dBFS) the plateau share is not measured: it would count the
quantisation steps of a near-silent file, not flat tops."""
MAINS_HZ = (50.0, 60.0)
HUM_HARMONICS = 12
HUM_NOTCH_Q = 30.0
HUM_NOISE_LIFT_DB = 6.0
HUM_PROMINENCE_DB = 20.0
"""Clean speech: no 50/60 Hz harmonic more than 13 dB above its surroundings (six stock
voices); hum at -46 dBFS peak: 28 dB and more."""


NARROW_BAND_DB = -45.0
"""Voiced speech's energy above 4.3 kHz against 0.3-3.3 kHz, below which a clip is
telephone audio whatever its file's rate. Measured on stock voices: wide-band speech
-13 to -28 dB, the same through 8 kHz and back up -59 to -74 dB, and -37 to -40 dB with
white noise at -50 dBFS added after the upsampling (passed: noise is no speech band)."""


@dataclass(frozen=True)
class SpeechProfile:
    """What the level and activity analysis of one clip found."""

    speech_frames: int
    total_frames: int
    speech_level_dbfs: float
    noise_floor_dbfs: float
    voiced: npt.NDArray[np.bool_] = field(
        default_factory=lambda: np.zeros(0, dtype=bool), repr=False, compare=False
    )
    """Per 30 ms frame: speech, and within ``VOICED_MARGIN_DB`` of the speech level."""

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


def without_rumble(pcm16k: Pcm) -> Pcm:
    """``pcm16k`` without its mean (DC offset) or anything below ``HIGH_PASS_HZ``."""
    if pcm16k.size == 0:
        return pcm16k
    centred = pcm16k.astype(np.float64) - np.mean(pcm16k, dtype=np.float64)
    return np.asarray(sosfilt(_HIGH_PASS, centred), dtype=np.float32)


def plateau_share(pcm: Pcm, relative: float) -> float:
    """Share of samples at or above ``relative`` times the clip's own peak. Clipped audio
    has flat tops at its peak wherever a gain change after the clipping put it (a clip
    clipped, then normalised to -1 dBFS, never reaches ``CLIP_LEVEL``)."""
    magnitude = np.abs(pcm)
    peak = float(np.max(magnitude)) if magnitude.size else 0.0
    if peak < MIN_PLATEAU_PEAK:
        return 0.0
    return float(np.count_nonzero(magnitude >= relative * peak)) / magnitude.size


def mains_hz(pcm16k: Pcm) -> float | None:
    """50 or 60 where mains hum is heard (a harmonic stands ``HUM_PROMINENCE_DB`` above
    the spectrum around it), whichever's first 8 harmonics stand out more; else None."""
    if pcm16k.size < ANALYSIS_RATE:
        return None
    power = np.abs(np.fft.rfft(pcm16k.astype(np.float64) * np.hanning(pcm16k.size))) ** 2
    freqs = np.fft.rfftfreq(pcm16k.size, 1.0 / ANALYSIS_RATE)
    tiny = 1e-30

    def prominences(base: float) -> list[float]:
        out = []
        for k in range(1, 9):
            distance = np.abs(freqs - k * base)
            tolerance = max(1.0, 0.005 * k * base)  # mains drifts by up to 0.5 %
            line = float(np.max(power[distance <= tolerance]))
            around = power[(distance >= tolerance + 3) & (distance <= tolerance + 20)]
            out.append(10 * math.log10((line + tiny) / (float(np.median(around)) + tiny)))
        return out

    found = {base: prominences(base) for base in MAINS_HZ}
    base = max(MAINS_HZ, key=lambda b: sum(max(p, 0.0) for p in found[b]))
    return base if max(found[base]) >= HUM_PROMINENCE_DB else None


def without_mains_hum(pcm: Pcm, rate: int, base_hz: float) -> Pcm:
    """``pcm`` with narrow notches (Q 30, a few hertz wide) at the first 12 harmonics of
    ``base_hz`` that lie below Nyquist. Speech keeps all but a sliver of its energy."""
    out = pcm.astype(np.float64)
    for k in range(1, HUM_HARMONICS + 1):
        if k * base_hz >= 0.45 * rate:
            break
        b, a = iirnotch(k * base_hz, HUM_NOTCH_Q, fs=rate)
        out = sosfilt(tf2sos(b, a), out)
    return out.astype(np.float32)


def hum_sets_the_floor(pcm16k: Pcm, profile: SpeechProfile, base_hz: float | None) -> bool:
    """Whether the hum at ``base_hz`` is the noise: notched out, the SNR of
    ``profile`` (of ``pcm16k``) rises by ``HUM_NOISE_LIFT_DB`` or more."""
    if base_hz is None or profile.speech_frames == 0:
        return False
    quiet = profile_speech(without_mains_hum(pcm16k, ANALYSIS_RATE, base_hz))
    return quiet.snr_db >= profile.snr_db + HUM_NOISE_LIFT_DB


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
    """Speech share, the typical level of speech, and the level of everything else (levels
    measured ``without_rumble``)."""
    mask = speech_mask(pcm16k)
    if mask.size == 0:
        return SpeechProfile(0, 0, FLOOR_DBFS, FLOOR_DBFS)
    levels = frame_levels_dbfs(without_rumble(pcm16k))
    speech, rest = levels[mask], levels[~mask]
    speech_level = float(np.median(speech)) if speech.size else FLOOR_DBFS
    # Without enough pauses to measure, the quietest tenth of all frames stands in for
    # the floor: a clip of wall-to-wall speech still shows its noise between syllables.
    noise = float(np.median(rest)) if rest.size >= 10 else float(np.percentile(levels, 10))
    voiced = mask & (levels >= speech_level - VOICED_MARGIN_DB)
    return SpeechProfile(int(mask.sum()), int(mask.size), speech_level, noise, voiced)


def upper_band_db(pcm16k: Pcm, voiced: npt.NDArray[np.bool_]) -> float | None:
    """Energy above 4.3 kHz against 0.3-3.3 kHz, in dB, over the voiced frames: where a
    clip's speech stops. None without a second of voiced speech to measure."""
    frames = min(voiced.size, pcm16k.size // FRAME_SAMPLES)
    if int(voiced[:frames].sum()) * FRAME_MS < 1000:
        return None
    blocks = pcm16k[: frames * FRAME_SAMPLES].reshape(frames, FRAME_SAMPLES)[voiced[:frames]]
    freqs, power = welch(blocks.reshape(-1).astype(np.float64), ANALYSIS_RATE, nperseg=512)
    low = float(power[(freqs >= 300) & (freqs <= 3300)].sum())
    high = float(power[(freqs >= 4300) & (freqs <= 7500)].sum())
    if low <= 0.0:
        return None
    return 10.0 * math.log10(max(high / low, 1e-12))
