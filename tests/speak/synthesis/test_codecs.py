"""Round-trip tests for the output codecs.

Encoded audio is decoded with libsndfile (via soundfile), not with the FFmpeg that
PyAV encodes with, so a container or header mistake cannot cancel itself out.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.synthesis.audio import wav_header
from scaispeak.speak.synthesis.audio.codecs import (
    AudioFormat,
    FileEncoder,
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
from scaispeak.speak.synthesis.audio.dsp import to_int16, to_int16_bytes
from scaispeak.speak.synthesis.audio.wav import rf64_header

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


RIFF_LIMIT = 0xFFFFFFFF


def chunks_of(header: bytes) -> list[tuple[bytes, int, bytes]]:
    """The chunks after RIFF/RF64 + WAVE: (id, 32-bit size, payload up to the header's end)."""
    found, at = [], 12
    while at + 8 <= len(header):
        kind, size = struct.unpack_from("<4sI", header, at)
        found.append((kind, size, header[at + 8 : at + 8 + size]))
        at += 8 + (0 if kind == b"data" else size)
    return found


def ds64_sizes(header: bytes) -> tuple[int, int, int]:
    """RIFF size, data size and sample count from an RF64 header's ds64 chunk."""
    kind, _size, payload = chunks_of(header)[0]
    assert kind == b"ds64"
    riff, data, samples, _table = struct.unpack_from("<QQQI", payload)
    return riff, data, samples


def test_wav_header_turns_rf64_when_the_data_outgrows_riff() -> None:
    small = 48_000 * 2
    assert len(wav_header(48_000, small)) == 44  # a whole clip keeps the canonical header
    assert struct.unpack_from("<4sI", wav_header(48_000, None)) == (b"RIFF", RIFF_LIMIT)
    reserved = wav_header(48_000, small, reserve_ds64=True)
    assert reserved[:4] == b"RIFF" and struct.unpack_from("<I", reserved, 4)[0] == 72 + small
    assert [kind for kind, _, _ in chunks_of(reserved)] == [b"JUNK", b"fmt ", b"data"]
    huge = 13 * 3600 * 48_000 * 2  # 13 h at 48 kHz: past 4 GiB (12.4 h is the limit)
    for reserve in (False, True):
        header = wav_header(48_000, huge, reserve_ds64=reserve)
        assert len(header) == len(reserved)  # a file writer overwrites one with the other
        assert header[:4] == b"RF64" and header[8:12] == b"WAVE"
        assert struct.unpack_from("<I", header, 4)[0] == RIFF_LIMIT
        assert [kind for kind, _, _ in chunks_of(header)] == [b"ds64", b"fmt ", b"data"]
        assert chunks_of(header)[-1][1] == RIFF_LIMIT  # the data size is in ds64
        assert ds64_sizes(header) == (72 + huge, huge, huge // 2)
    edge = RIFF_LIMIT - 72  # the largest data whose RIFF size is not read as 'unknown'
    assert wav_header(48_000, edge - 1, reserve_ds64=True)[:4] == b"RIFF"
    assert wav_header(48_000, edge, reserve_ds64=True)[:4] == b"RF64"


def test_an_rf64_file_reads_back_with_libsndfile_and_ffmpeg() -> None:
    pcm = make_signal(16_000, 0.5)
    data = to_int16_bytes(pcm)
    file = rf64_header(16_000, len(data)) + data
    info = sf.info(io.BytesIO(file))
    assert (info.format, info.samplerate, info.frames) == ("RF64", 16_000, pcm.size)
    decoded, _ = sf.read(io.BytesIO(file), dtype="int16")
    np.testing.assert_array_equal(decoded, to_int16(pcm))
    with av.open(io.BytesIO(file)) as container:
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    np.testing.assert_array_equal(np.concatenate(frames), to_int16(pcm))


def test_file_encoder_wav_is_riff_with_room_for_rf64() -> None:
    pcm = make_signal(22_050)
    out = io.BytesIO()
    encoder = FileEncoder(AudioFormat.wav, 22_050, out)
    encoder.write(pcm[:10_000])
    encoder.write(pcm[10_000:])
    encoder.finish()
    decoded, rate = sf.read(io.BytesIO(out.getvalue()), dtype="int16")
    assert rate == 22_050
    np.testing.assert_array_equal(decoded, to_int16(pcm))
    with wave.open(io.BytesIO(out.getvalue())) as reader:  # Python's reader skips JUNK too
        assert reader.getnframes() == pcm.size


class DiscardingFile:
    """A seekable file that keeps only what is written at its start (the header): a
    job's output past 4 GiB, without 4 GiB of disk."""

    def __init__(self, keep: int) -> None:
        self.start = bytearray(keep)
        self.position = self.end = 0
        self.first_header_length: int | None = None

    def write(self, data: bytes) -> int:
        if self.first_header_length is None:
            self.first_header_length = len(data)
        kept = data[: max(0, len(self.start) - self.position)]
        self.start[self.position : self.position + len(kept)] = kept
        self.position += len(data)
        self.end = max(self.end, self.position)
        return len(data)

    def tell(self) -> int:
        return self.position

    def seek(self, position: int, whence: int = 0) -> int:
        self.position = position
        return position


def test_file_encoder_writes_rf64_once_a_wav_passes_4_gib() -> None:
    rate = 48_000
    sink = DiscardingFile(keep=256)
    encoder = FileEncoder(AudioFormat.wav, rate, sink)  # type: ignore[arg-type]
    chunk = np.full(rate * 10, 0.25, np.float32)  # 10 s: cache-sized, so quick to convert
    written = 0
    while written * 2 <= RIFF_LIMIT:  # 12.5 h
        encoder.write(chunk)
        written += chunk.size
    encoder.finish()  # raised struct.error when sizes were packed in 32 bits
    header_length = sink.first_header_length
    assert header_length == 80 and sink.position == sink.end  # back at the end
    header = bytes(sink.start[:header_length])
    assert header[:4] == b"RF64"
    assert ds64_sizes(header) == (sink.end - 8, written * 2, written)
    first_samples = np.frombuffer(bytes(sink.start[header_length:]), np.int16)
    assert np.all(first_samples == to_int16(chunk[:1])[0])  # the data starts right after


@pytest.mark.parametrize("rate", [8000, 22050, 48000])
def test_streamed_mp3_says_how_late_decoders_play_it(rate: int) -> None:
    """Bare MP3 frames decode with LAME's priming first; ``delay_samples`` is its length
    in FFmpeg's and libsndfile's decoders (word times must move by it)."""
    pcm = np.zeros(rate, np.float32)
    onset = rate // 2
    pcm[onset] = 0.9  # a click: its decoded position is the delay
    encoder = StreamEncoder(AudioFormat.mp3, rate)
    stream = encoder.encode(pcm) + encoder.finish()
    by_libsndfile, _ = decode(stream, AudioFormat.mp3, rate)
    with av.open(io.BytesIO(stream), format="mp3") as container:
        by_ffmpeg = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    for decoded in (by_libsndfile, by_ffmpeg):
        assert abs(int(np.argmax(np.abs(decoded))) - onset - encoder.delay_samples) <= 1
    assert encoder.delay_seconds == pytest.approx(encoder.delay_samples / rate)
    assert 0.02 < encoder.delay_seconds < 0.14


@pytest.mark.parametrize(
    ("fmt", "rate"), [(AudioFormat.opus, 24000), (AudioFormat.wav, 16000), (AudioFormat.pcm, 8000)]
)
def test_other_streams_play_from_their_first_sample(fmt: AudioFormat, rate: int) -> None:
    pcm = np.zeros(rate, np.float32)
    pcm[rate // 2 : rate // 2 + rate // 10] = 0.5  # a step: where its onset decodes
    encoder = StreamEncoder(fmt, rate)
    decoded, _ = decode(encoder.encode(pcm) + encoder.finish(), fmt, rate)
    assert encoder.delay_samples == 0
    assert abs(int(np.flatnonzero(np.abs(decoded) > 0.25)[0]) - rate // 2) <= 2
