"""Preflight: is this clip good enough to clone from (or to prove consent with)?

Each check answers pass, warn, fail or skip with the measured value and a hint the
speaker can act on. A report passes when no check fails. Thresholds are settings
(docs/configuration.md); the reasoning behind them is in docs/voices.md, and the
measurements behind the constants below in docs/cloning.md ("Preflight audio checks").
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scaispeak.settings import VoicesSettings
from scaispeak.speak.engines.base import EngineError, Pcm
from scaispeak.speak.engines.cloning.speakers import SpeakerEncoder, cosine
from scaispeak.speak.provenance.watermark import (
    CERTAIN_THRESHOLD,
    DETECTION_THRESHOLD,
    Watermarker,
    shared_watermarker,
)
from scaispeak.speak.synthesis.audio import integrated_loudness
from scaispeak.speak.voices import acoustics
from scaispeak.speak.voices.audio_input import DecodedAudio

SPEAKER_WINDOW_S = 3.0
"""Windows compared by the single-speaker check: long enough for a stable embedding."""

WINDOW_MIN_VOICED_S = 1.5
"""A window is embedded only with this much voiced speech in it (VAD speech within
``acoustics.VOICED_MARGIN_DB`` of the clip's speech level). Windows of room tone were
embedded as a second speaker: genuine clips with 4-5 s of pink noise at -55 to -66 dBFS
around them scored 0.34-0.57 and failed as "more than one voice" (now 0.70-0.89)."""

UNIFORM_ABOVE = 0.97
"""Windows this alike are one steady sound, not a voice: a 120 Hz buzz scored 0.999-1.0,
pink noise and music 0.99-0.999, while windows of genuine speech (248 clips of six stock
voices: wav/mp3/opus, noise, reverb, hum, room tone) scored at most 0.910 against each
other (docs/cloning.md, "Preflight audio checks")."""

NOISE_FAIL_BELOW_DB, NOISE_WARN_BELOW_DB = 10.0, 20.0
"""Signal-to-noise ratio: median speech frame level minus the floor (``SpeechProfile``)."""

CLIP_FAIL_SHARE, CLIP_WARN_SHARE = 1e-3, 1e-4
"""Shares of sample instants at full scale (``acoustics.CLIP_LEVEL``)."""
PLATEAU_FAIL_AT, PLATEAU_FAIL_SHARE = 0.99, 1e-3
PLATEAU_WARN_AT, PLATEAU_WARN_SHARE = 0.95, 2e-3
"""Flat tops below full scale: shares of samples at or above these fractions of the
clip's own peak. Genuine clips: at most 2e-5 and 1.1e-4; clipped 2x then normalised:
5e-3 and more; a broadcast limiter pushed 12 dB: 4.6e-4 and 1.6e-3 (it passes); clipped
audio through 48 kHz MP3 loses its flat tops (2e-5), and the 95 % share warns for some
voices (2.1e-3, 3.1e-3) but not others (8e-5)."""

DURATION_TOLERANCE_S = 0.05
"""Slack on both duration bounds: lossy codecs decode a few ms longer than what was
recorded (encoder delay and frame padding: an exact 25.0 s clip comes back as
25.0002 s from MP3, 25.024 s from AAC in M4A), and nobody can trim a recording to
the millisecond. 50 ms covers every codec we accept with room to spare."""


class ClipKind(enum.StrEnum):
    reference = "reference"
    consent = "consent"


class CheckStatus(enum.StrEnum):
    pass_ = "pass"
    warn = "warn"
    fail = "fail"
    skip = "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    value: float | None
    unit: str
    hint: str


@dataclass(frozen=True)
class PreflightReport:
    kind: ClipKind
    duration_s: float
    sample_rate: int
    container: str
    codec: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.status is not CheckStatus.fail for c in self.checks)

    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status is CheckStatus.fail]

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["passed"] = self.passed
        return body


def run_preflight(
    audio: DecodedAudio,
    kind: ClipKind,
    settings: VoicesSettings,
    encoder: SpeakerEncoder,
    watermarker: Watermarker | None = None,
) -> PreflightReport:
    """Every check on one decoded clip. CPU-bound: call it off the event loop."""
    pcm16k = acoustics.to_analysis_rate(audio.pcm, audio.rate)
    profile = acoustics.profile_speech(pcm16k)
    clean16k = acoustics.without_rumble(pcm16k)
    hum_hz = acoustics.mains_hz(clean16k)
    checks = [
        check_duration(audio.duration_s, kind, settings),
        check_sample_rate(audio.rate, acoustics.upper_band_db(pcm16k, profile.voiced)),
        check_clipping(clipping_of(audio), *plateaus_of(audio)),
        check_loudness(integrated_loudness(audio.pcm, audio.rate)),
        check_noise(profile, noisy_hum(pcm16k, profile, hum_hz)),
        check_speech_ratio(profile, kind),
    ]
    if kind is ClipKind.consent:
        checks.append(check_not_silent(profile))
    checks.append(check_single_speaker(clean16k, profile, settings, encoder))
    marker = watermarker or shared_watermarker()
    checks.append(check_not_synthetic(watermark_score(marker, audio, hum_hz)))
    return PreflightReport(
        kind, round(audio.duration_s, 3), audio.rate, audio.container, audio.codec, tuple(checks)
    )


def noisy_hum(pcm16k: Pcm, profile: acoustics.SpeechProfile, hum_hz: float | None) -> float | None:
    """``hum_hz`` where the noise check would not pass and the hum is why, else None."""
    if hum_hz is None or profile.snr_db >= NOISE_WARN_BELOW_DB:
        return None
    return hum_hz if acoustics.hum_sets_the_floor(pcm16k, profile, hum_hz) else None


def watermark_score(marker: Watermarker, audio: DecodedAudio, hum_hz: float | None) -> float:
    """Perth's score, or where mains hum was found, the lower of the clip's and the clip's
    with the hum notched out. Perth reads hum as its mark: genuine speech with 60 Hz hum
    scored up to 0.997, "made by this service"; notched, 0-0.18. Hum never hid a mark
    (marked speech with hum scored 1.0; notched, what it scores without hum), but
    notching a tonal sound whose lines sit on mains harmonics can raise its score (a
    120 Hz buzz: 0.04 raw, 0.80 notched)."""
    score = marker.detect(audio.pcm, audio.rate)
    if hum_hz is None:
        return score
    notched = acoustics.without_mains_hum(audio.pcm, audio.rate, hum_hz)
    return min(score, marker.detect(notched, audio.rate))


def clipping_of(audio: DecodedAudio) -> float:
    """Clipping measured per channel at decode (a downmix hides a clipped channel), or on
    the samples themselves for audio that was mono from the start (live intake)."""
    if audio.clipped_fraction is not None:
        return audio.clipped_fraction
    return acoustics.clipped_fraction(audio.pcm)


def plateaus_of(audio: DecodedAudio) -> tuple[float, float]:
    """Shares of samples near the clip's own peak (``PLATEAU_FAIL_AT``, ``_WARN_AT``)."""
    pcm = audio.pcm
    return (
        acoustics.plateau_share(pcm, PLATEAU_FAIL_AT),
        acoustics.plateau_share(pcm, PLATEAU_WARN_AT),
    )


def _check(name: str, status: CheckStatus, value: float | None, unit: str, hint: str) -> Check:
    if value is None or not math.isfinite(value):
        if value is not None and status is not CheckStatus.fail:
            # NaN compares False with every threshold, so it fell through to "pass".
            status, hint = CheckStatus.fail, "This could not be measured; record it again."
        return Check(name, status, None, unit, hint)
    return Check(name, status, round(value, 4), unit, hint)


def check_duration(seconds: float, kind: ClipKind, s: VoicesSettings) -> Check:
    low, high = (
        (s.reference_min_s, s.reference_max_s)
        if kind is ClipKind.reference
        else (s.consent_min_s, s.consent_max_s)
    )
    if seconds < low - DURATION_TOLERANCE_S:
        return _check("duration", CheckStatus.fail, seconds, "s", f"Record at least {low:g} s.")
    if seconds > high + DURATION_TOLERANCE_S:
        return _check("duration", CheckStatus.fail, seconds, "s", f"Trim it to {high:g} s.")
    return _check("duration", CheckStatus.pass_, seconds, "s", f"Between {low:g} and {high:g} s.")


def check_sample_rate(rate: int, upper_band_db: float | None = None) -> Check:
    """The file's rate, or 8 kHz where its speech stops at 4 kHz: telephone audio
    converted to a higher rate (``upper_band_db``, acoustics.NARROW_BAND_DB) passed as
    wide-band, though it clones as poorly as when it says 8 kHz."""
    if rate < 8_000:
        return _check("sample_rate", CheckStatus.fail, rate, "Hz", "Record at 16 kHz or more.")
    if rate < 16_000:
        hint = "Telephone-band audio clones poorly; record at 16 kHz or more."
        return _check("sample_rate", CheckStatus.warn, rate, "Hz", hint)
    if upper_band_db is not None and upper_band_db < acoustics.NARROW_BAND_DB:
        hint = (
            f"The file is at {rate} Hz but its speech stops at 4 kHz: telephone audio "
            "converted to a higher rate clones poorly; record at 16 kHz or more."
        )
        return _check("sample_rate", CheckStatus.warn, 8_000, "Hz", hint)
    return _check("sample_rate", CheckStatus.pass_, rate, "Hz", "Wide-band audio.")


def check_clipping(fraction: float, plateau: float = 0.0, near_plateau: float = 0.0) -> Check:
    """``fraction``: share at full scale; ``plateau``, ``near_plateau``: shares at 99 %
    and 95 % of the clip's own peak. The value reported is the share that decided."""
    if fraction > CLIP_FAIL_SHARE or plateau > PLATEAU_FAIL_SHARE:
        hint = "The recording is clipped (distorted); lower the input gain and record again."
        if fraction <= CLIP_FAIL_SHARE:
            hint = (
                "The recording was clipped (distorted) before its level was turned down; "
                "lower the input gain and record again."
            )
        return _check("clipping", CheckStatus.fail, max(fraction, plateau), "ratio", hint)
    if fraction > CLIP_WARN_SHARE:
        hint = "A few samples touch full scale; lower the gain a little."
        return _check("clipping", CheckStatus.warn, fraction, "ratio", hint)
    if near_plateau > PLATEAU_WARN_SHARE:
        hint = "Many peaks are flattened at one level (clipping or heavy limiting); lower the gain."
        return _check("clipping", CheckStatus.warn, near_plateau, "ratio", hint)
    return _check("clipping", CheckStatus.pass_, max(fraction, plateau), "ratio", "No clipping.")


def check_loudness(lufs: float) -> Check:
    if not math.isfinite(lufs) or lufs < -50:
        hint = "Almost nothing is audible; check the microphone."
        return _check("loudness", CheckStatus.fail, lufs, "LUFS", hint)
    if lufs < -35:
        hint = "Very quiet; move closer to the microphone or raise the gain."
        return _check("loudness", CheckStatus.warn, lufs, "LUFS", hint)
    if lufs > -8:
        hint = "Very loud; lower the gain to avoid distortion."
        return _check("loudness", CheckStatus.warn, lufs, "LUFS", hint)
    return _check("loudness", CheckStatus.pass_, lufs, "LUFS", "Comfortable level.")


def check_noise(profile: acoustics.SpeechProfile, hum_hz: float | None = None) -> Check:
    """``hum_hz``: mains hum was found, and it is what sets the noise floor."""
    snr = profile.snr_db
    if profile.speech_frames == 0:
        return _check("noise", CheckStatus.skip, None, "dB", "No speech to compare noise with.")
    if snr < NOISE_FAIL_BELOW_DB:
        hint = "Background noise is almost as loud as the voice; record somewhere quieter."
        if hum_hz is not None:
            hint = f"Mains hum ({hum_hz:.0f} Hz) is almost as loud as the voice. {HUM_ADVICE}"
        return _check("noise", CheckStatus.fail, snr, "dB", hint)
    if snr < NOISE_WARN_BELOW_DB:
        hint = f"Noticeable background noise (floor {profile.noise_floor_dbfs:.0f} dBFS)."
        if hum_hz is not None:
            hint = f"Noticeable mains hum ({hum_hz:.0f} Hz). {HUM_ADVICE}"
        return _check("noise", CheckStatus.warn, snr, "dB", hint)
    return _check("noise", CheckStatus.pass_, snr, "dB", "Clean background.")


def check_speech_ratio(profile: acoustics.SpeechProfile, kind: ClipKind) -> Check:
    ratio = profile.speech_ratio
    fail_below, warn_below = (0.4, 0.6) if kind is ClipKind.reference else (0.2, 0.4)
    if ratio < fail_below:
        hint = "Mostly silence or noise; speak continuously for the whole clip."
        return _check("speech_ratio", CheckStatus.fail, ratio, "ratio", hint)
    if ratio < warn_below:
        hint = "Long pauses; trim silence at the start and end."
        return _check("speech_ratio", CheckStatus.warn, ratio, "ratio", hint)
    return _check("speech_ratio", CheckStatus.pass_, ratio, "ratio", "Mostly speech.")


def check_not_silent(profile: acoustics.SpeechProfile) -> Check:
    seconds = profile.speech_seconds
    if seconds < 1.0:
        hint = "The consent recording is silent; read the statement aloud."
        return _check("not_silent", CheckStatus.fail, seconds, "s", hint)
    return _check("not_silent", CheckStatus.pass_, seconds, "s", "Speech heard.")


def check_single_speaker(
    pcm16k: Pcm, profile: acoustics.SpeechProfile, s: VoicesSettings, encoder: SpeakerEncoder
) -> Check:
    """Embed consecutive windows; the least similar pair says whether voices change."""
    similarity = window_consistency(pcm16k, encoder, profile.voiced)
    if profile.speech_frames == 0 or similarity is None:
        hint = "Too little speech to compare parts of the clip."
        return _check("single_speaker", CheckStatus.skip, None, "cosine", hint)
    if similarity > UNIFORM_ABOVE:
        hint = (
            "No voice is heard: the clip sounds the same throughout, like a tone, a hum or "
            "noise. Record the speaker talking."
        )
        return _check("single_speaker", CheckStatus.fail, similarity, "cosine", hint)
    if similarity < s.single_speaker_fail_below:
        hint = "More than one voice is heard; record the speaker alone."
        return _check("single_speaker", CheckStatus.fail, similarity, "cosine", hint)
    if similarity < s.single_speaker_warn_below:
        hint = "The voice varies a lot; keep a steady voice and no other speakers."
        return _check("single_speaker", CheckStatus.warn, similarity, "cosine", hint)
    return _check("single_speaker", CheckStatus.pass_, similarity, "cosine", "One speaker.")


def check_not_synthetic(confidence: float) -> Check:
    """Refuse our own synthetic speech: a replay of a clip this service made carries its
    watermark (docs/provenance.md). A voice is cloned from, and consented by, a person."""
    if confidence >= CERTAIN_THRESHOLD:
        return _check("synthetic", CheckStatus.fail, confidence, "score", SYNTHETIC_HINT)
    if confidence >= DETECTION_THRESHOLD:
        # Suspect only (reverberant rooms score here too): intake compares fingerprints.
        hint = "A weak sign of a synthetic-speech watermark; a clean, close recording avoids it."
        return _check("synthetic", CheckStatus.warn, confidence, "score", hint)
    return _check("synthetic", CheckStatus.pass_, confidence, "score", "No watermark found.")


HUM_ADVICE = (
    "Keep the microphone and its cable away from power supplies and lights, or record "
    "on a battery-powered device."
)

SYNTHETIC_HINT = (
    "This audio carries ScaiSpeak's synthetic-speech watermark: it was made by this "
    "service, not recorded from the speaker. Record the speaker live."
)


def window_consistency(
    pcm16k: Pcm, encoder: SpeakerEncoder, voiced: npt.NDArray[np.bool_]
) -> float | None:
    """Lowest cosine between embeddings of 3 s windows, of those holding
    ``WINDOW_MIN_VOICED_S`` of voiced frames (``voiced``: one per 30 ms frame), each
    embedded from its voiced frames alone: a window half speech and half room tone
    scored 0.52 against the speech before it, in about one take of joe's in five."""
    size = int(SPEAKER_WINDOW_S * acoustics.ANALYSIS_RATE)
    starts = range(0, max(pcm16k.size - size // 2, 0), size)
    per_frame = acoustics.FRAME_SAMPLES
    min_samples = WINDOW_MIN_VOICED_S * acoustics.ANALYSIS_RATE
    kept = np.zeros(pcm16k.size, dtype=bool)
    framed = np.repeat(voiced, per_frame)[: pcm16k.size]
    kept[: framed.size] = framed
    embeddings = []
    for start in starts:
        window = pcm16k[start : start + size]
        speech = window[kept[start : start + window.size]]
        # Too short, or too little speech (silence, room tone): no speaker to compare.
        if window.size < size // 2 or speech.size < min_samples:
            continue
        try:
            embeddings.append(encoder.embed(speech, acoustics.ANALYSIS_RATE))
        except EngineError:
            continue  # the encoder found too little speech in it
    if len(embeddings) < 2:
        return None
    pairs = [cosine(a, b) for i, a in enumerate(embeddings) for b in embeddings[i + 1 :]]
    return float(np.min(pairs))
