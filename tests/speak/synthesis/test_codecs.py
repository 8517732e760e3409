"""Round-trip tests for the output codecs.

Encoded audio is decoded with libsndfile (via soundfile), not with the FFmpeg that
PyAV encodes with, so a container or header mistake cannot cancel itself out.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.synthesis.audio.codecs import (
    AudioFormat,
    StreamEncoder,
    UnsupportedFormat,
    UnsupportedSampleRate,
    allowed_sample_rates,
    content_type,
    default_sample_rate,
    encode,
    file_extension,
    parse_format,
    validate_sample_rate,
)
from scaispeak.speak.synthesis.audio.dsp import to_int16

# Decoded length may differ by encoder priming/padding that the decoder cannot trim.
DURATION_TOLERANCE_S = {AudioFormat.mp3: 0.06, AudioFormat.opus: 0.03}
STREAM_DURATION_TOLERANCE_S = {AudioFormat.mp3: 0.1, AudioFormat.opus: 0.03}

CASES = [
    (AudioFormat.wav, 22050),
    (AudioFormat.wav, 48000),
    (AudioFormat.wav, 8000),
    (AudioFormat.pcm, 22050),
    (AudioFormat.pcm, 16000),
    (AudioFormat.flac, 22050),
    (AudioFormat.flac, 44100),
    (AudioFormat.mp3, 22050),
    (AudioFormat.mp3, 24000),
    (AudioFormat.mp3, 44100),
    (AudioFormat.mp3, 8000),
    (AudioFormat.opus, 24000),
    (AudioFormat.opus, 48000),
    (AudioFormat.opus, 16000),
    (AudioFormat.mulaw, 8000),
]


def make_signal(rate: int, seconds: float = 1.2) -> Pcm:
    """A chirp, two steady tones and a syllable-rate amplitude envelope, below 3.5 kHz."""
    t = np.arange(round(seconds * rate)) / rate
    chirp = np.sin(2 * np.pi * (150 * t + 1300 * t**2 / seconds))
    tones = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1000 * t)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    return (0.3 * envelope * (chirp + tones)).astype(np.float32)


def decode(data: bytes, fmt: AudioFormat, rate: int) -> tuple[npt.NDArray[np.float64], int]:
    """Decode with libsndfile; raw formats need their layout spelled out."""
    layout: dict[str, Any] = {}
    if fmt in (AudioFormat.pcm, AudioFormat.mulaw):
        subtype = "PCM_16" if fmt is AudioFormat.pcm else "ULAW"
        layout = {"samplerate": rate, "channels": 1, "format": "RAW", "subtype": subtype}
    samples, decoded_rate = sf.read(io.BytesIO(data), **layout)
    return np.asarray(samples, dtype=np.float64), int(decoded_rate)


def align(reference: Pcm, decoded: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``decoded`` shifted by the codec delay (up to a tenth of its length)."""
    size = 1 << (reference.size + decoded.size).bit_length()
    cross = np.fft.irfft(np.fft.rfft(decoded, size) * np.conj(np.fft.rfft(reference, size)), size)
    limit = decoded.size // 10
    lags = np.r_[0:limit, size - limit : size]
    lag = int(lags[np.argmax(cross[lags])])
    return decoded[lag:] if lag < limit else np.concatenate([np.zeros(size - lag), decoded])


def spectral_correlation(a: Pcm, b: npt.NDArray[np.float64]) -> float:
    """Correlation of magnitude spectrograms after delay alignment: ignores phase changes."""
    b = align(a, b)
    n = min(a.size, b.size)
    frame = 512

    def spectrogram(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        frames = x[: n - n % frame].reshape(-1, frame) * np.hanning(frame)
        return np.abs(np.fft.rfft(frames, axis=1)).ravel()

    return float(np.corrcoef(spectrogram(a), spectrogram(b))[0, 1])


def snr_db(reference: npt.NDArray[np.floating], decoded: npt.NDArray[np.floating]) -> float:
    error = decoded[: reference.size] - reference
    return 10 * math.log10(float(np.sum(reference**2)) / max(float(np.sum(error**2)), 1e-20))


@pytest.mark.parametrize(("fmt", "rate"), CASES)
def test_encode_round_trip(fmt: AudioFormat, rate: int) -> None:
    pcm = make_signal(rate)
    decoded, decoded_rate = decode(encode(pcm, rate, fmt), fmt, rate)
    assert decoded_rate == rate
    tolerance = DURATION_TOLERANCE_S.get(fmt, 0.0)
    assert abs(decoded.size - pcm.size) / rate <= tolerance
    if fmt in (AudioFormat.wav, AudioFormat.pcm, AudioFormat.flac):
        np.testing.assert_array_equal(np.rint(decoded * 32768).astype(np.int16), to_int16(pcm))
    elif fmt is AudioFormat.mulaw:
        assert snr_db(pcm, decoded) > 30  # G.711 gives about 38 dB on speech-level signals
    else:
        assert spectral_correlation(pcm, decoded) > 0.95
        assert snr_db(pcm, align(pcm, decoded)) > 12  # measured 22-26 dB at these bitrates


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_encode_empty_clip_is_decodable(fmt: AudioFormat) -> None:
    rate = 8000 if fmt is AudioFormat.mulaw else 24000
    data = encode(np.zeros(0, dtype=np.float32), rate, fmt)
    if fmt in (AudioFormat.pcm, AudioFormat.mulaw):
        assert data == b""
    else:
        decoded, decoded_rate = decode(data, fmt, rate)
        assert decoded_rate == rate
        assert decoded.size / rate <= 0.1


@pytest.mark.parametrize(
    ("fmt", "rate"),
    [
        (AudioFormat.opus, 22050),
        (AudioFormat.opus, 44100),
        (AudioFormat.mp3, 96000),
        (AudioFormat.mp3, 7000),
        (AudioFormat.mulaw, 16000),
        (AudioFormat.wav, 96000),
        (AudioFormat.flac, 4000),
    ],
)
def test_invalid_rate_raises(fmt: AudioFormat, rate: int) -> None:
    pcm = make_signal(rate, 0.1)
    with pytest.raises(UnsupportedSampleRate) as caught:
        encode(pcm, rate, fmt)
    assert caught.value.fmt is fmt
    assert caught.value.rate == rate
    assert rate not in caught.value.allowed
    assert str(rate) in str(caught.value)
    with pytest.raises(UnsupportedSampleRate):
        StreamEncoder(fmt, rate)
    with pytest.raises(UnsupportedSampleRate):
        validate_sample_rate(fmt, rate)


def test_unknown_format_raises() -> None:
    with pytest.raises(UnsupportedFormat):
        parse_format("aac")
    with pytest.raises(UnsupportedFormat):
        encode(make_signal(22050, 0.1), 22050, "aac")
    assert parse_format("opus") is AudioFormat.opus


def test_flac_cannot_be_streamed() -> None:
    with pytest.raises(UnsupportedFormat):
        StreamEncoder(AudioFormat.flac, 22050)


@pytest.mark.parametrize(
    ("fmt", "engine_rate", "expected"),
    [
        (AudioFormat.opus, 22050, 48000),
        (AudioFormat.opus, 24000, 24000),
        (AudioFormat.mulaw, 22050, 8000),
        (AudioFormat.mp3, 22050, 22050),
        (AudioFormat.mp3, 10000, 11025),
        (AudioFormat.wav, 22050, 22050),
        (AudioFormat.flac, 96000, 48000),
    ],
)
def test_default_sample_rate(fmt: AudioFormat, engine_rate: int, expected: int) -> None:
    assert default_sample_rate(fmt, engine_rate) == expected
    assert expected in allowed_sample_rates(fmt)


def test_content_types_and_extensions() -> None:
    assert content_type(AudioFormat.wav) == "audio/wav"
    assert content_type(AudioFormat.mp3) == "audio/mpeg"
    assert content_type(AudioFormat.opus) == "audio/ogg; codecs=opus"
    assert content_type(AudioFormat.flac) == "audio/flac"
    assert content_type(AudioFormat.mulaw) == "audio/basic"
    assert content_type(AudioFormat.pcm, 24000) == "audio/pcm;rate=24000"
    assert {file_extension(f) for f in AudioFormat} == {"wav", "pcm", "mp3", "opus", "flac", "ulaw"}


STREAM_CASES = [
    (AudioFormat.pcm, 22050),
    (AudioFormat.wav, 22050),
    (AudioFormat.mulaw, 8000),
    (AudioFormat.mp3, 22050),
    (AudioFormat.mp3, 44100),
    (AudioFormat.opus, 24000),
    (AudioFormat.opus, 48000),
]


@pytest.mark.parametrize(("fmt", "rate"), STREAM_CASES)
def test_stream_encoder_emits_early_and_decodes_fully(fmt: AudioFormat, rate: int) -> None:
    pcm = make_signal(rate)
    encoder = StreamEncoder(fmt, rate)
    chunk = rate // 50  # 20 ms, as a transport would forward engine output
    pieces = [encoder.encode(pcm[i : i + chunk]) for i in range(0, pcm.size, chunk)]
    before_finish = sum(len(p) for p in pieces)
    pieces.append(encoder.finish())
    stream = b"".join(pieces)
    # Audio, not only a header, must flow before the end: at least half of the stream.
    assert before_finish >= len(stream) / 2
    decoded, decoded_rate = decode(stream, fmt, rate)
    assert decoded_rate == rate
    tolerance = STREAM_DURATION_TOLERANCE_S.get(fmt, 0.0)
    assert abs(decoded.size - pcm.size) / rate <= tolerance
    assert spectral_correlation(pcm, decoded) > 0.95
    assert snr_db(pcm, align(pcm, decoded)) > 12


@pytest.mark.parametrize(("fmt", "rate"), [(AudioFormat.pcm, 22050), (AudioFormat.mulaw, 8000)])
def test_raw_stream_equals_whole_clip(fmt: AudioFormat, rate: int) -> None:
    pcm = make_signal(rate)
    encoder = StreamEncoder(fmt, rate)
    stream = b"".join(encoder.encode(pcm[i : i + 333]) for i in range(0, pcm.size, 333))
    assert stream + encoder.finish() == encode(pcm, rate, fmt)


def test_stream_encoder_rejects_audio_after_finish() -> None:
    encoder = StreamEncoder(AudioFormat.opus, 24000)
    encoder.encode(make_signal(24000, 0.1))
    encoder.finish()
    assert encoder.finish() == b""
    with pytest.raises(Exception, match="finished"):
        encoder.encode(make_signal(24000, 0.1))


def test_mulaw_agrees_with_reference_codec() -> None:
    """Our G.711 (ITU G.191 rounding) vs. libsndfile's: at most one code step apart."""
    levels = (np.arange(-32768, 32768) / 32767).astype(np.float32)
    ours = np.frombuffer(encode(levels, 8000, AudioFormat.mulaw), dtype=np.uint8).astype(int)
    buffer = io.BytesIO()
    sf.write(buffer, levels, 8000, format="RAW", subtype="ULAW")
    theirs = np.frombuffer(buffer.getvalue(), dtype=np.uint8).astype(int)
    assert np.mean(ours == theirs) > 0.99
    assert np.max(np.abs(ours - theirs)) <= 1
