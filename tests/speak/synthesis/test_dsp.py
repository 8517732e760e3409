"""Tests for the sample-level audio helpers: resampling, BS.1770 loudness, fades, joins."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.synthesis.audio import loudness
from scaispeak.speak.synthesis.audio.dsp import (
    fade_edges,
    from_int16_bytes,
    join_segments,
    resample,
    resampled_length,
    silence,
    to_int16_bytes,
)
from scaispeak.speak.synthesis.audio.loudness import (
    PEAK_CEILING_DBFS,
    integrated_loudness,
    limit_to_ceiling,
    normalize_loudness,
)

RATES = (8000, 16000, 22050, 24000, 44100, 48000)


def sine(freq: float, dbfs: float, seconds: float, rate: int) -> Pcm:
    t = np.arange(round(seconds * rate)) / rate
    wave: npt.NDArray[np.float64] = 10.0 ** (dbfs / 20.0) * np.sin(2 * np.pi * freq * t)
    return wave.astype(np.float32)


def speech_like(rate: int, seconds: float = 4.0) -> Pcm:
    """Harmonics under a syllable-rate envelope plus a little noise: speech's crest factor."""
    t = np.arange(round(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 1200), 1))
    envelope = (0.5 + 0.5 * np.sin(2 * np.pi * 3.3 * t)) ** 3
    noise = np.random.default_rng(1).standard_normal(t.size)
    return (0.08 * voice * envelope + 0.002 * noise).astype(np.float32)


def peak_dbfs(pcm: Pcm) -> float:
    return 20.0 * math.log10(float(np.max(np.abs(pcm))))


def test_resample_identity_returns_input() -> None:
    pcm = sine(440, -6, 0.1, 22050)
    assert resample(pcm, 22050, 22050) is pcm


@pytest.mark.parametrize(("src", "dst"), [(22050, 16000), (22050, 48000), (24000, 8000)])
def test_resample_keeps_duration_and_pitch(src: int, dst: int) -> None:
    out = resample(sine(1000, -6, 1.0, src), src, dst)
    assert out.dtype == np.float32
    assert abs(out.size - dst) <= 2
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * dst / out.size - 1000) < 2


@pytest.mark.parametrize(
    ("src", "dst"),
    [(24000, 22050), (16000, 22050), (8000, 22050), (48000, 22050), (22050, 24000),
     (22050, 16000), (22050, 8000), (24000, 48000), (24000, 16000), (44100, 24000)],
)  # fmt: skip
def test_resampled_length_is_what_resample_returns(src: int, dst: int) -> None:
    # Every length up to 800 samples and some longer ones; among them the lengths whose
    # exact output ends in half a sample, where plain rounding and soxr disagreed.
    rng = np.random.default_rng(src + dst)
    lengths = [*range(1, 800), *(int(n) for n in rng.integers(800, 300_000, 40))]
    for n in lengths:
        got = resample(np.zeros(n, np.float32), src, dst).size
        assert resampled_length(n, src, dst) == got, (n, src, dst, n * dst / src)


def test_int16_bytes_read_back_as_float32_full_scale() -> None:
    pcm = from_int16_bytes(b"\x00\x80\x00\x00\xff\x7f")  # -32768, 0, 32767
    assert pcm.dtype == np.float32
    np.testing.assert_array_equal(pcm, np.array([-1.0, 0.0, 32767 / 32768], np.float32))


def test_resample_empty() -> None:
    assert resample(np.zeros(0, dtype=np.float32), 22050, 16000).size == 0


def test_silence() -> None:
    pcm = silence(250, 22050)
    assert pcm.dtype == np.float32
    assert pcm.size == round(0.25 * 22050)
    assert not pcm.any()


def test_k_weighting_matches_bs1770_coefficients_at_48k() -> None:
    (shelf_b, shelf_a), (hp_b, hp_a) = loudness._k_weighting_biquads(48000)
    np.testing.assert_allclose(shelf_b, [1.53512485958697, -2.69169618940638, 1.19839281085285])
    np.testing.assert_allclose(shelf_a, [1.0, -1.69065929318241, 0.73248077421585])
    np.testing.assert_allclose(hp_b, [1.0, -2.0, 1.0])
    np.testing.assert_allclose(hp_a, [1.0, -1.99004745483398, 0.99007225036621])


def test_full_scale_997hz_sine_is_minus_3_01_lufs() -> None:
    assert integrated_loudness(sine(997, 0, 3.0, 48000), 48000) == pytest.approx(-3.01, abs=0.05)


@pytest.mark.parametrize("rate", RATES)
def test_1khz_sine_at_minus_20_dbfs_is_minus_23_lufs(rate: int) -> None:
    assert integrated_loudness(sine(1000, -20, 2.0, rate), rate) == pytest.approx(-23.0, abs=0.5)


def test_gating_ignores_quiet_passages() -> None:
    """Mono form of EBU Tech 3341 case 3: quiet tones are gated out by the relative gate."""
    rate = 16000  # the gating does not depend on the rate; a low one keeps the test fast
    pcm = np.concatenate(
        [sine(1000, -33, 10, rate), sine(1000, -20, 60, rate), sine(1000, -33, 10, rate)]
    )
    assert integrated_loudness(pcm, rate) == pytest.approx(-23.0, abs=0.1)


def test_silence_padding_does_not_change_loudness() -> None:
    rate = 22050
    tone = sine(1000, -20, 10.0, rate)
    padded = np.concatenate([silence(1500, rate), tone, silence(1500, rate)])
    # Ungated, the 30 silent blocks would lower the result by about 1.1 LU; the blocks
    # straddling the edges still count (correctly) and cost about 0.13 LU.
    assert integrated_loudness(padded, rate) == pytest.approx(
        integrated_loudness(tone, rate), abs=0.2
    )


def test_loudness_of_silence_is_minus_infinity() -> None:
    assert integrated_loudness(silence(1000, 22050), 22050) == -math.inf
    assert integrated_loudness(np.zeros(0, dtype=np.float32), 22050) == -math.inf


def test_loudness_of_clip_shorter_than_one_block() -> None:
    assert integrated_loudness(sine(1000, -20, 0.25, 22050), 22050) == pytest.approx(-23, abs=0.5)


@pytest.mark.parametrize("rate", [22050, 48000])
@pytest.mark.parametrize("target", [-30.0, -23.0, -16.0, -14.0])
def test_normalize_reaches_target_and_respects_ceiling(rate: int, target: float) -> None:
    pcm = speech_like(rate)
    out = normalize_loudness(pcm, rate, target)
    assert out.dtype == np.float32
    assert out.size == pcm.size
    assert integrated_loudness(out, rate) == pytest.approx(target, abs=0.5)
    assert peak_dbfs(out) <= -1.0


def test_normalize_limits_impulsive_peaks() -> None:
    rate = 22050
    pcm = sine(300, -30, 3.0, rate)
    pcm[::5000] = 0.9  # clicks 30 dB above the tone: plain gain would clip them
    out = normalize_loudness(pcm, rate, -16.0)
    assert integrated_loudness(out, rate) == pytest.approx(-16.0, abs=0.5)
    assert peak_dbfs(out) <= -1.0


def test_normalize_limiter_gain_is_smooth_and_only_near_peaks() -> None:
    rate = 22050
    pcm = sine(300, -30, 3.0, rate)
    click = 33075
    pcm[click] = 0.9
    out = normalize_loudness(pcm, rate, -16.0)
    # The applied gain, read where the tone is well away from its zero crossings.
    steady = np.flatnonzero(np.abs(pcm) > 0.01)
    gain = out[steady] / pcm[steady]
    gain /= np.median(gain)
    radius = round(0.005 * rate)
    far = np.abs(steady - click) > 2 * radius + 1
    assert np.allclose(gain[far], 1.0, atol=1e-4)  # untouched away from the click
    assert gain.min() < 0.2  # the click itself was pulled down hard
    slope = np.abs(np.diff(gain)) / np.diff(steady)
    assert slope.max() < 0.02  # and the gain faded over ~5 ms, never stepped


def limited_everywhere(pcm: npt.NDArray[np.float64], rate: int, ceiling: float) -> Pcm:
    """The limiter worked over the whole clip, as it was before it skipped spans."""
    needed = np.minimum(1.0, ceiling / np.maximum(np.abs(pcm), 1e-12))
    radius = round(0.005 * rate)
    spread = np.pad(loudness._running_min(needed, radius), radius, "edge")
    box = np.ones(radius + 1) / (radius + 1)
    gain = np.convolve(np.convolve(spread, box, "valid"), box, "valid")
    return np.clip(pcm * gain, -ceiling, ceiling)


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
def test_limiting_only_near_overshoots_equals_limiting_everywhere(rate: int) -> None:
    ceiling = 10 ** (-1 / 20)
    pcm = speech_like(rate).astype(np.float64) * 12  # overshoots all through the clip
    rng = np.random.default_rng(7)
    sparse = 0.3 * rng.standard_normal(rate)
    sparse[[0, 5, 700, 701, rate // 2, rate - 3]] = [1.2, -1.1, 0.95, -1.3, 1.5, 1.01]
    for clip in (pcm, sparse, np.full(10, 1.3)):
        limited = loudness._limit_peaks(clip, rate, ceiling)
        np.testing.assert_allclose(limited, limited_everywhere(clip, rate, ceiling), atol=1e-9)
        assert np.max(np.abs(limited)) <= ceiling


def test_already_levelled_audio_passes_unchanged() -> None:
    rate = 24000
    levelled = normalize_loudness(speech_like(rate), rate, -20.0)
    # What an upstream that levels sends: resampled (overshooting a little) and rounded.
    resampled = resample(levelled, rate, 22050)
    np.testing.assert_array_equal(normalize_loudness(resampled, 22050, -20.0), resampled)
    off_target = resampled * np.float32(10 ** (0.5 / 20))
    assert integrated_loudness(normalize_loudness(off_target, 22050, -20.0), 22050) == (
        pytest.approx(-20.0, abs=0.1)
    )


@pytest.mark.parametrize("rate", [8000, 22050, 24000, 48000])
@pytest.mark.parametrize("over_db", [0.3, 4.0, 20.0])
def test_loudness_after_limiting_equals_measuring_the_limited_clip(
    rate: int, over_db: float
) -> None:
    # Few overshoots (a marked upstream's clip), many, and ones in the clip's last block.
    clips = [speech_like(rate), speech_like(rate, seconds=0.3)]
    clicks = sine(300, -30, 2.0, rate)
    clicks[[7, rate // 3, rate // 3 + 40, clicks.size - 2]] = 0.9
    ceiling = 10 ** (-1 / 20)
    for pcm in [*clips, clicks]:
        weighted = loudness._k_weight(pcm, rate)
        powers = loudness._block_powers(weighted, rate)
        gain = ceiling / float(np.max(np.abs(pcm))) * 10 ** (over_db / 20)  # peak over by over_db
        change = loudness._limit(pcm.astype(np.float64) * gain, rate, ceiling)
        assert change.spans  # the limiter did work
        worked_out = loudness._powers_after_limiting(weighted, powers, gain, change, rate)
        measured = loudness._block_powers(loudness._k_weight(change.limited, rate), rate)
        np.testing.assert_allclose(worked_out, measured, rtol=1e-9, atol=1e-15)
        assert loudness._gated_loudness(worked_out) == pytest.approx(
            integrated_loudness(change.limited, rate), abs=1e-6
        )


def test_relayed_audio_over_the_ceiling_is_levelled_under_it() -> None:
    # What a ScaiSpeak upstream sends (levelled, then marked and resampled): a few tenths
    # of an LU off the target and peaks over -1 dBFS. The ceiling holds after levelling.
    rate = 24000
    levelled = normalize_loudness(speech_like(rate), rate, -20.0)
    upstream = levelled * np.float32(10 ** (0.3 / 20))
    upstream[[1000, 50_000]] = np.float32(10 ** (-0.3 / 20))
    assert peak_dbfs(upstream) > -1.0
    out = normalize_loudness(upstream, rate, -20.0)
    assert peak_dbfs(out) <= -1.0
    assert integrated_loudness(out, rate) == pytest.approx(-20.0, abs=0.1)
    pcm16 = np.frombuffer(to_int16_bytes(out), "<i2")
    assert 20 * math.log10(np.abs(pcm16).max() / 32767) <= -1.0  # also as delivered


def test_normalize_leaves_input_untouched() -> None:
    pcm = speech_like(22050)
    before = pcm.copy()
    normalize_loudness(pcm, 22050, -16.0)
    np.testing.assert_array_equal(pcm, before)


def test_normalize_silence_is_unchanged() -> None:
    out = normalize_loudness(silence(1000, 22050), 22050, -16.0)
    assert not out.any()


def test_normalize_caps_gain_on_noise_floor() -> None:
    rate = 22050
    hiss = (1e-3 * np.random.default_rng(2).standard_normal(rate * 2)).astype(np.float32)
    out = normalize_loudness(hiss, rate, -16.0)
    gain_db = integrated_loudness(out, rate) - integrated_loudness(hiss, rate)
    assert gain_db == pytest.approx(loudness.MAX_GAIN_DB, abs=0.1)


def test_fade_edges_ramps_ends_only() -> None:
    rate = 22050
    pcm = np.full(rate // 10, 0.5, dtype=np.float32)
    out = fade_edges(pcm, rate, ms=5)
    fade = round(0.005 * rate)
    assert out.size == pcm.size
    assert abs(out[0]) < 0.01 and abs(out[-1]) < 0.01
    assert np.all(np.diff(out[:fade]) > 0)
    np.testing.assert_array_equal(out[fade:-fade], pcm[fade:-fade])
    assert np.all(pcm == 0.5)  # input not modified


def test_fade_edges_on_tiny_clips() -> None:
    assert fade_edges(np.zeros(0, dtype=np.float32), 22050).size == 0
    assert fade_edges(np.ones(3, dtype=np.float32), 22050).size == 3


def test_join_segments_places_parts_and_pauses() -> None:
    rate = 16000
    a = np.full(1600, 0.5, dtype=np.float32)
    b = np.full(800, -0.25, dtype=np.float32)
    out = join_segments([(a, 100.0), (b, 50.0)], rate)
    assert out.dtype == np.float32
    assert out.size == 1600 + 1600 + 800 + 800
    np.testing.assert_array_equal(out[:1600], fade_edges(a, rate))
    assert not out[1600:3200].any()
    np.testing.assert_array_equal(out[3200:4000], fade_edges(b, rate))
    assert not out[4000:].any()


def test_join_segments_has_no_clicks_without_pauses() -> None:
    rate = 22050
    parts = [(np.full(2205, level, dtype=np.float32), 0.0) for level in (0.8, -0.8, 0.8)]
    out = join_segments(parts, rate)
    # A hard cut would step by 1.6; the 5 ms raised-cosine fades keep every step small.
    assert float(np.max(np.abs(np.diff(out)))) < 0.02


def test_join_segments_edge_cases() -> None:
    assert join_segments([], 22050).size == 0
    tone = sine(440, -6, 0.1, 22050)
    assert join_segments([(tone, -40.0)], 22050).size == tone.size


def test_to_int16_bytes_clips_and_rounds_little_endian() -> None:
    pcm = np.array([0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 1e-5], dtype=np.float32)
    data = to_int16_bytes(pcm)
    assert len(data) == 2 * pcm.size
    expected = [0, 32767, -32767, 16384, 32767, -32767, 0]
    assert np.frombuffer(data, dtype="<i2").tolist() == expected


def test_limit_to_ceiling_passes_audio_under_it_and_limits_audio_over_it() -> None:
    quiet = (0.5 * np.sin(np.linspace(0, 200, 22_050))).astype(np.float32)
    assert limit_to_ceiling(quiet, 22_050) is quiet
    loud = quiet * 1.9
    limited = limit_to_ceiling(loud, 22_050)
    assert limited.dtype == np.float32 and limited.shape == loud.shape
    assert np.abs(limited).max() <= 10 ** (PEAK_CEILING_DBFS / 20)
