"""Preflight decodes common formats safely and fails the check that explains the problem."""

from __future__ import annotations

import io
import struct
import wave
from typing import Any

import av
import numpy as np
import pytest

from scaispeak.settings import VoicesSettings
from scaispeak.speak.synthesis.audio import AudioFormat, encode
from scaispeak.speak.voices.audio_input import decode_audio
from scaispeak.speak.voices.errors import AudioTooLong, AudioUnreadable
from scaispeak.speak.voices.preflight import ClipKind, check_duration
from tests.platform.test_auth import assert_problem
from tests.speak.voices.conftest import VOICES, Clips, Impostor, VoiceApp, auth, silence


def container_bytes(pcm: np.ndarray, rate: int, container: str, codec: str) -> bytes:
    """Audio in a container our own encoder does not write (m4a, webm, raw aac)."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as box:
        stream = box.add_stream(codec, rate=48_000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    return out.getvalue()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p, r: encode(p, r, "wav"), id="wav"),
        pytest.param(lambda p, r: encode(p, r, "mp3"), id="mp3"),
        pytest.param(lambda p, r: encode(p, r, "opus"), id="ogg-opus"),
        pytest.param(lambda p, r: encode(p, r, "flac"), id="flac"),
        pytest.param(lambda p, r: container_bytes(p, 48_000, "mp4", "aac"), id="m4a"),
        pytest.param(lambda p, r: container_bytes(p, 48_000, "webm", "libopus"), id="webm"),
        pytest.param(lambda p, r: container_bytes(p, 48_000, "adts", "aac"), id="aac"),
        # A Mac's recorders save these; they were refused as unrecognised.
        pytest.param(lambda p, r: container_bytes(p, 48_000, "aiff", "pcm_s16be"), id="aiff"),
        pytest.param(lambda p, r: container_bytes(p, 48_000, "aiff", "pcm_f32be"), id="aifc"),
    ],
)
def test_common_formats_decode_to_mono_float(make: Any) -> None:
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(48_000) / 48_000)).astype(np.float32)
    audio = decode_audio(make(tone, 48_000), max_seconds=10, timeout_s=10)
    assert audio.pcm.dtype == np.float32 and audio.pcm.ndim == 1
    assert 0.9 < audio.duration_s < 1.2


def without_id3(mp3: bytes) -> bytes:
    """MPEG frames alone, as a file joined by a stream cutter has them."""
    if mp3[:3] != b"ID3":
        return mp3
    size = (mp3[6] << 21) | (mp3[7] << 14) | (mp3[8] << 7) | mp3[9]  # syncsafe
    return mp3[10 + size :]


def stereo_mp3(pcm: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as box:
        stream = box.add_stream("libmp3lame", rate=rate)
        stream.layout = "stereo"
        both = np.stack([pcm, pcm]).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(both, format="fltp", layout="stereo")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            box.mux(packet)
    return out.getvalue()


def test_a_file_whose_rate_or_channels_change_part_way_decodes_whole() -> None:
    """Two MP3s joined end to end (44.1 kHz mono, 16 kHz mono, 16 kHz stereo): the
    resampler set up by the first frame refused the others, a 500 on preflight,
    clone and /detect."""

    def tone(rate: int) -> np.ndarray:
        return (0.3 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate)).astype(np.float32)

    parts = [
        encode(tone(44_100), 44_100, "mp3"),
        encode(tone(16_000), 16_000, "mp3"),
        stereo_mp3(tone(16_000), 16_000),
    ]
    joined = b"".join(without_id3(part) for part in parts)
    audio = decode_audio(joined, max_seconds=10, timeout_s=10)
    assert 2.8 < audio.duration_s < 3.4


def test_analysis_can_decode_a_high_rate_file_at_a_lower_rate() -> None:
    """/detect needs no more than 48 kHz: a 192 kHz upload decoded whole took four times
    the memory for nothing."""
    rate = 192_000
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    data = multichannel_wav([tone], rate)
    audio = decode_audio(data, max_seconds=10, timeout_s=10, max_rate=48_000)
    assert audio.rate == 48_000 and 47_000 < audio.pcm.size < 49_000
    assert 0.9 < audio.duration_s < 1.1
    low = decode_audio(encode(tone[::12], 16_000, AudioFormat.wav), max_seconds=10, timeout_s=10)
    assert low.rate == 16_000  # never raised
    assert decode_audio(data, max_seconds=10, timeout_s=10).rate == rate  # by default kept


def test_playlists_and_unknown_files_are_refused_without_probing() -> None:
    # caf too: FFmpeg indexes its packet table, one entry per byte, as it opens it.
    caf = container_bytes(np.zeros(4800, np.float32), 48_000, "caf", "pcm_s16le")
    for data in (b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n", b"ffconcat version 1.0\n", b"", caf):
        with pytest.raises(AudioUnreadable):
            decode_audio(data, max_seconds=10, timeout_s=10)


def test_a_damaged_file_is_refused_in_words_a_user_can_act_on() -> None:
    """FFmpeg's "[Errno 1094995529] Invalid data found when processing input" was shown."""
    damaged = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\xff" * 64
    with pytest.raises(AudioUnreadable) as refused:
        decode_audio(damaged, max_seconds=10, timeout_s=10)
    assert "Errno" not in str(refused.value) and "damaged" in str(refused.value)


def _wav(bits: int = 16, format_tag: int = 1, title: bytes | None = None) -> bytes:
    """A 16 kHz mono WAV written by hand: a header field as a broken or old tool sets it."""
    pcm = (np.sin(np.arange(16_000) / 5) * 8_000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", format_tag, 1, 16_000, 32_000, 2, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if title is not None:
        info = b"INFO" + b"INAM" + struct.pack("<I", len(title)) + title
        chunks += b"LIST" + struct.pack("<I", len(info)) + info
    chunks += b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def test_a_header_naming_no_known_coding_is_unreadable_not_a_crash() -> None:
    """FFmpeg opened it with no decoder: an AttributeError, a 500 on /detect, preflight
    and clone (helper-86)."""
    for data in (_wav(bits=0), _wav(format_tag=0xFFFE)):  # extensible, 16-byte fmt
        with pytest.raises(AudioUnreadable, match="coding"):
            decode_audio(data, max_seconds=10, timeout_s=10)


def test_a_tag_that_is_not_utf8_does_not_stop_the_audio() -> None:
    """A Latin-1 title ("Andr\xe9") raised UnicodeDecodeError as the file opened."""
    audio = decode_audio(_wav(title=b"Andr\xe9\x00"), max_seconds=10, timeout_s=10)
    assert audio.rate == 16_000 and audio.pcm.size == 16_000


def test_decoding_stops_at_the_duration_cap() -> None:
    with pytest.raises(AudioTooLong):
        decode_audio(encode(silence(5, 16_000), 16_000, "flac"), max_seconds=2, timeout_s=10)


async def preflight(app: VoiceApp, data: bytes, kind: str = "reference") -> dict[str, Any]:
    response = await app.client.post(
        f"{VOICES}/preflight",
        headers=auth(app.tenancy.member_a),
        data={"kind": kind},
        files={"file": ("clip.wav", data, "audio/wav")},
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


async def test_clean_reference_passes_every_check(sqlite_voice_app: VoiceApp, clips: Clips) -> None:
    report = await preflight(sqlite_voice_app, clips.wav(clips.reference))
    assert report["passed"] is True
    assert set(statuses(report).values()) == {"pass"}
    assert {c["name"] for c in report["checks"]} == {
        "duration",
        "sample_rate",
        "clipping",
        "loudness",
        "noise",
        "speech_ratio",
        "single_speaker",
        "synthetic",
    }
    assert all(c["hint"] for c in report["checks"])


async def test_too_short_clip_fails_duration(sqlite_voice_app: VoiceApp, clips: Clips) -> None:
    short = clips.reference[: int(3 * clips.rate)]
    report = await preflight(sqlite_voice_app, clips.wav(short))
    assert report["passed"] is False
    assert [c["name"] for c in report["checks"] if c["status"] == "fail"] == ["duration"]


async def test_clipped_clip_fails_clipping(sqlite_voice_app: VoiceApp, clips: Clips) -> None:
    clipped = np.clip(clips.reference * 20, -1, 1).astype(np.float32)
    report = await preflight(sqlite_voice_app, clips.wav(clipped))
    assert statuses(report)["clipping"] == "fail" and report["passed"] is False


async def test_silent_clip_fails_speech_and_silent_consent_fails_not_silent(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    quiet = clips.wav(silence(8, clips.rate))
    reference = statuses(await preflight(sqlite_voice_app, quiet))
    assert reference["speech_ratio"] == "fail" and reference["loudness"] == "fail"
    consent = statuses(await preflight(sqlite_voice_app, quiet, "consent"))
    assert consent["not_silent"] == "fail"


async def test_two_speakers_fail_single_speaker(
    sqlite_voice_app: VoiceApp, clips: Clips, impostor: Impostor
) -> None:
    import soxr

    other = soxr.resample(impostor.pcm, impostor.rate, clips.rate).astype(np.float32)
    both = np.concatenate([clips.reference[: int(7 * clips.rate)], other[: int(7 * clips.rate)]])
    report = await preflight(sqlite_voice_app, clips.wav(both))
    assert statuses(report)["single_speaker"] == "fail"


async def test_undecodable_upload_is_a_failed_decode_check(sqlite_voice_app: VoiceApp) -> None:
    report = await preflight(sqlite_voice_app, b"not audio at all")
    assert report["passed"] is False and statuses(report) == {"decode": "fail"}


async def test_oversize_upload_is_413(sqlite_voice_app: VoiceApp, clips: Clips) -> None:
    sqlite_voice_app.runtime.settings.upload_max_bytes = 1000
    response = await sqlite_voice_app.client.post(
        f"{VOICES}/preflight",
        headers=auth(sqlite_voice_app.tenancy.member_a),
        files={"file": ("clip.wav", clips.wav(clips.reference), "audio/wav")},
    )
    assert_problem(response, 413, "upload_too_large")
    assert response.json()["limit"] == 1000


async def test_preflight_needs_credentials(sqlite_voice_app: VoiceApp) -> None:
    response = await sqlite_voice_app.client.post(
        f"{VOICES}/preflight", files={"file": ("clip.wav", b"RIFF", "audio/wav")}
    )
    assert_problem(response, 401, "unauthorized")


def multichannel_wav(channels: list[np.ndarray], rate: int) -> bytes:
    """16-bit PCM WAV with one column per channel (our own encoder writes mono only)."""
    frames = np.clip(np.stack(channels, axis=1), -1, 1)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(len(channels))
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((frames * 32767).astype("<i2").tobytes())
    return out.getvalue()


@pytest.mark.parametrize("channels", [2, 6, 8])
def test_identical_channels_decode_at_the_level_of_one(channels: int) -> None:
    """Averaged, not summed: L=R stereo is not 3 dB hotter, 5.1 at 0.5 is not 1.7."""
    tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000)).astype(np.float32)
    audio = decode_audio(multichannel_wav([tone] * channels, 16_000), max_seconds=10, timeout_s=10)
    assert audio.channels == channels and audio.pcm.ndim == 1
    assert float(np.max(np.abs(audio.pcm))) == pytest.approx(0.5, abs=1e-3)
    assert audio.clipped_fraction == 0.0


def test_stereo_with_one_channel_inverted_decodes_to_the_voice_not_silence() -> None:
    """A miswired microphone: L = -R averages to nothing, so the first channel is kept."""
    tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(16_000) / 16_000)).astype(np.float32)
    audio = decode_audio(multichannel_wav([tone, -tone], 16_000), max_seconds=10, timeout_s=10)
    assert float(np.max(np.abs(audio.pcm))) == pytest.approx(0.5, abs=1e-3)


def test_uncorrelated_channels_are_still_averaged() -> None:
    rng = np.random.default_rng(3)
    left, right = (0.3 * rng.standard_normal((2, 16_000))).clip(-1, 1).astype(np.float32)
    audio = decode_audio(multichannel_wav([left, right], 16_000), max_seconds=10, timeout_s=10)
    expected = (left + right) / 2
    assert np.allclose(audio.pcm, expected, atol=2e-4)


def peak_at(pcm: np.ndarray, level: float) -> np.ndarray:
    return (pcm / np.max(np.abs(pcm)) * level).astype(np.float32)


async def test_stereo_reference_just_below_full_scale_passes_clipping(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    voice = peak_at(clips.reference, 0.89)  # -1 dBFS
    report = await preflight(sqlite_voice_app, multichannel_wav([voice, voice], clips.rate))
    assert statuses(report)["clipping"] == "pass" and report["passed"] is True


async def test_a_reference_recorded_with_one_channel_inverted_passes(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    voice = peak_at(clips.reference, 0.5)
    report = await preflight(sqlite_voice_app, multichannel_wav([voice, -voice], clips.rate))
    assert report["passed"] is True, report


async def test_a_clipped_channel_beside_a_silent_one_fails_clipping(
    sqlite_voice_app: VoiceApp, clips: Clips
) -> None:
    clipped = np.clip(peak_at(clips.reference, 0.89) * 3, -1, 1)
    data = multichannel_wav([clipped, np.zeros_like(clipped)], clips.rate)
    report = await preflight(sqlite_voice_app, data)
    assert statuses(report)["clipping"] == "fail" and report["passed"] is False


@pytest.mark.parametrize(
    ("rate", "make"),
    [
        pytest.param(22_050, lambda p, r: encode(p, r, "mp3"), id="mp3"),
        pytest.param(48_000, lambda p, r: container_bytes(p, r, "mp4", "aac"), id="m4a"),
    ],
)
def test_an_exactly_25_s_clip_passes_duration_despite_codec_padding(rate: int, make: Any) -> None:
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(25 * rate) / rate)).astype(np.float32)
    audio = decode_audio(make(tone, rate), max_seconds=60, timeout_s=10)
    assert audio.duration_s > 25.0, "the codec pads; otherwise this test proves nothing"
    assert check_duration(audio.duration_s, ClipKind.reference, VoicesSettings()).status == "pass"


def test_the_duration_tolerance_stays_small() -> None:
    s = VoicesSettings()
    assert check_duration(25.06, ClipKind.reference, s).status == "fail"
    assert check_duration(4.94, ClipKind.reference, s).status == "fail"
    assert check_duration(4.97, ClipKind.reference, s).status == "pass"


@pytest.mark.parametrize("rate", [1, 5, 7_999])
async def test_a_sample_rate_below_telephone_is_a_failed_decode_check(
    sqlite_voice_app: VoiceApp, rate: int
) -> None:
    """A WAV declaring 5 Hz or less was a 500 (the loudness blocks were empty)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes((np.ones(max(rate * 10, 40)) * 8000).astype("<i2").tobytes())
    report = await preflight(sqlite_voice_app, out.getvalue())
    assert report["passed"] is False and statuses(report) == {"decode": "fail"}
    assert "sample rate" in report["checks"][0]["hint"]


def test_a_speaker_mismatch_among_noisy_clips_says_noise_may_be_why(clips: Clips) -> None:
    """Noise lowers the score of one speaker's two clips: a genuine speaker in a noisy
    room was told the consent was not their voice."""
    from scaispeak.speak.voices.verification import match_speakers, noisy, preflight_upload

    settings = VoicesSettings()
    rng = np.random.default_rng(5)
    hiss = (0.05 * rng.standard_normal(clips.genuine.size)).astype(np.float32)
    said = preflight_upload(clips.wav(clips.genuine + hiss), ClipKind.consent, settings)
    ref = preflight_upload(clips.wav(clips.reference), ClipKind.reference, settings)
    assert noisy(said) and not noisy(ref)
    assert ref.audio is not None and said.audio is not None
    unreachable = 1.01  # a cosine never passes it: the refusal's hint is what is checked
    told = match_speakers(ref.audio, said.audio, unreachable, noisy=noisy(ref, said))
    assert told.passed is False and "noise" in told.hint
    plain = match_speakers(ref.audio, said.audio, unreachable, noisy=noisy(ref))
    assert plain.hint == "The consent recording is not the reference speaker's voice."
