"""Encoding mono PCM into the audio formats the API offers, whole clips or streamed.

WAV, raw PCM (s16le) and μ-law are produced with numpy alone; μ-law follows the
ITU-T G.191 reference ``ulaw_compress``. MP3 (libmp3lame), Ogg Opus (libopus) and FLAC
go through PyAV/FFmpeg. The caller resamples first: ``encode`` and ``StreamEncoder``
take PCM already at the output rate and only check that the format can carry it.

Streaming conventions (:class:`StreamEncoder`):

* ``wav`` starts with a header whose RIFF and data sizes are ``0xFFFFFFFF`` ("length
  unknown", as FFmpeg writes when piping); libsndfile and most players read such a
  stream up to its end.
* ``mp3`` is bare MPEG frames (no ID3 tag, no Xing header), so it can be cut anywhere.
  Without the LAME tag a decoder also cannot know to trim the encoder's priming, so the
  decoded stream starts with ``StreamEncoder.delay_samples`` of silence.
* ``opus`` is Ogg Opus with pages of about 100 ms, so bytes flow while audio arrives.
* ``flac`` cannot be streamed (its header needs the total length): UnsupportedFormat.

:class:`FileEncoder` writes WAV with room for an RF64 size chunk and fills in the sizes
at the end: RIFF, or RF64 once the audio outgrows 4 GiB (:mod:`.wav`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO

import av
import numpy as np
from av.audio.stream import AudioStream

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.synthesis.audio.dsp import to_int16, to_int16_bytes
from scaispeak.speak.synthesis.audio.wav import wav_header


class AudioFormat(StrEnum):
    """Output formats; the value is the name used in the API."""

    wav = "wav"
    pcm = "pcm"  # raw signed 16-bit little-endian, mono
    mp3 = "mp3"
    opus = "opus"  # Opus in an Ogg container
    flac = "flac"
    mulaw = "mulaw"  # raw G.711 μ-law, 8 kHz mono


class CodecError(Exception):
    """Base class for everything this module raises."""


class UnsupportedFormat(CodecError):
    """The format name is unknown, or the operation is not offered for that format."""


class UnsupportedSampleRate(CodecError):
    """The format cannot carry the requested sample rate; ``allowed`` lists what it can."""

    def __init__(self, fmt: AudioFormat, rate: int, allowed: Sequence[int]) -> None:
        self.fmt = fmt
        self.rate = rate
        self.allowed = allowed
        if isinstance(allowed, range):
            choices = f"any rate from {allowed.start} to {allowed.stop - 1} Hz"
        else:
            choices = ", ".join(str(r) for r in allowed) + " Hz"
        super().__init__(f"{fmt.value} cannot use a sample rate of {rate} Hz; allowed: {choices}")


class EncodingFailed(CodecError):
    """The underlying encoder (FFmpeg via PyAV) reported an error."""


_NAMES = {  # format: (MIME type, file extension)
    AudioFormat.wav: ("audio/wav", "wav"),
    AudioFormat.pcm: ("audio/pcm", "pcm"),
    AudioFormat.mp3: ("audio/mpeg", "mp3"),
    AudioFormat.opus: ("audio/ogg; codecs=opus", "opus"),
    AudioFormat.flac: ("audio/flac", "flac"),
    AudioFormat.mulaw: ("audio/basic", "ulaw"),  # RFC 2046: audio/basic is 8 kHz mono μ-law
}
_ANY_RATE = range(8000, 48001)
_RATES: dict[AudioFormat, Sequence[int]] = {
    AudioFormat.wav: _ANY_RATE,
    AudioFormat.pcm: _ANY_RATE,
    AudioFormat.flac: _ANY_RATE,
    AudioFormat.mp3: (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
    AudioFormat.opus: (8000, 12000, 16000, 24000, 48000),
    AudioFormat.mulaw: (8000,),
}


def parse_format(value: AudioFormat | str) -> AudioFormat:
    """The :class:`AudioFormat` named ``value``; raises :class:`UnsupportedFormat`."""
    try:
        return AudioFormat(value)
    except ValueError:
        names = ", ".join(f.value for f in AudioFormat)
        raise UnsupportedFormat(f"unknown audio format {value!r}; choose one of {names}") from None


def content_type(fmt: AudioFormat, rate: int | None = None) -> str:
    """MIME type for ``fmt``; raw PCM carries ``;rate=`` when ``rate`` is given."""
    if fmt is AudioFormat.pcm and rate is not None:
        return f"audio/pcm;rate={rate}"
    return _NAMES[fmt][0]


def file_extension(fmt: AudioFormat) -> str:
    """Conventional file extension for ``fmt``, without the dot."""
    return _NAMES[fmt][1]


def allowed_sample_rates(fmt: AudioFormat) -> Sequence[int]:
    """Rates ``fmt`` can carry (a ``range`` where any rate in an interval works)."""
    return _RATES[fmt]


def validate_sample_rate(fmt: AudioFormat, rate: int) -> None:
    """Raise :class:`UnsupportedSampleRate` unless ``fmt`` can carry ``rate``."""
    if rate not in _RATES[fmt]:
        raise UnsupportedSampleRate(fmt, rate, _RATES[fmt])


def default_sample_rate(fmt: AudioFormat, engine_rate: int) -> int:
    """Output rate when the client did not ask for one.

    The engine's own rate if the format allows it (no resampling); otherwise Opus gets
    its native 48 kHz and other formats the nearest allowed rate at or above the engine
    rate, so no bandwidth is lost (μ-law always ends up at 8 kHz).
    """
    allowed = _RATES[fmt]
    if engine_rate in allowed:
        return engine_rate
    if fmt is AudioFormat.opus:
        return 48000
    higher = [r for r in allowed if r >= engine_rate]
    return min(higher) if higher else max(allowed)


def mulaw_encode(pcm: Pcm) -> bytes:
    """G.711 μ-law bytes, bit-for-bit the ITU-T G.191 reference ``ulaw_compress``."""
    x = to_int16(pcm).astype(np.int32)
    # Reference quantisation: 14-bit magnitude (one's complement for negatives) + bias 33.
    magnitude = np.minimum(np.where(x < 0, ~x, x) >> 2, 0x1FFF - 33) + 33
    segment = np.frexp((magnitude >> 6).astype(np.float64))[1] + 1  # bit length + 1
    low = 0x0F - ((magnitude >> segment) & 0x0F)
    code = ((8 - segment) << 4) | low | np.where(x >= 0, 0x80, 0)
    return bytes(code.astype(np.uint8).tobytes())


@dataclass(frozen=True)
class _AvSpec:
    container: str
    codec: str
    bit_rate: int | None
    options: dict[str, str] = field(default_factory=dict)


_MP3_PRIMING_SAMPLES = 1105
"""What a decoder plays before the first sample fed to LAME, when no LAME tag tells it to
trim that: LAME's encoder delay (576) plus the MP3 decoder's own (528 + 1). FFmpeg
reports it as the encoder's ``initial_padding`` (its first packet's pts is -1105), at
every rate; FFmpeg's and libsndfile's (mpg123) decoders both play it (tested)."""

_OPUS_PAGE_US = "100000"  # streamed Ogg page length: latency vs. ~28 bytes of page overhead


def _held_seconds(fmt: AudioFormat, rate: int) -> float:
    """The most audio a stream's encoder holds back, with a margin (measured, 8-48 kHz:
    Ogg Opus 200 ms, a 100 ms page plus its frame and look-ahead; LAME 310 ms at 11.025
    kHz, 190 ms at 16 kHz, 110-180 ms above)."""
    if fmt is AudioFormat.opus:
        return 0.25
    if fmt is AudioFormat.mp3:
        return 0.4 if rate < 16_000 else 0.25
    return 0.0


_MIN_AV_SAMPLES_S = 0.02  # empty clips get 20 ms of silence: zero-frame files don't decode


def _av_spec(fmt: AudioFormat, rate: int, streaming: bool) -> _AvSpec:
    if fmt is AudioFormat.mp3:
        bit_rate = 32000 if rate <= 16000 else 64000 if rate <= 24000 else 96000
        # A stream cannot seek back to fill in the Xing header; keep it bare frames.
        options = {"id3v2_version": "0", "write_xing": "0"} if streaming else {}
        return _AvSpec("mp3", "libmp3lame", bit_rate, options)
    if fmt is AudioFormat.opus:
        options = {"page_duration": _OPUS_PAGE_US} if streaming else {}
        return _AvSpec("ogg", "libopus", 24000 if rate <= 16000 else 32000, options)
    if fmt is AudioFormat.flac and not streaming:
        return _AvSpec("flac", "flac", None)
    raise UnsupportedFormat(f"{fmt.value} cannot be {'streamed' if streaming else 'encoded'}")


class _ChunkSink:
    """Write-only, non-seekable file object whose received bytes can be drained."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


class _AvEncoder:
    """One PyAV output container with a single mono audio stream."""

    def __init__(
        self, fmt: AudioFormat, rate: int, sink: BinaryIO | _ChunkSink, streaming: bool
    ) -> None:
        spec = _av_spec(fmt, rate, streaming)
        self._rate = rate
        self._samples = 0
        try:
            self._container = av.open(sink, mode="w", format=spec.container, options=spec.options)
            stream = self._container.add_stream(spec.codec, rate=rate, layout="mono")
            if not isinstance(stream, AudioStream):  # narrows the type; cannot happen
                raise EncodingFailed(f"{spec.codec} is not an audio codec")
            self._stream = stream
            if spec.bit_rate is not None:
                self._stream.bit_rate = spec.bit_rate
        except av.FFmpegError as exc:
            raise EncodingFailed(f"cannot set up the {fmt.value} encoder: {exc}") from exc

    def write(self, pcm: Pcm) -> None:
        if pcm.size == 0:
            return
        frame = av.AudioFrame.from_ndarray(
            to_int16(pcm).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self._rate
        frame.pts = self._samples
        self._samples += pcm.size
        self._mux(frame)

    def close(self) -> None:
        if self._samples == 0:
            self.write(np.zeros(round(self._rate * _MIN_AV_SAMPLES_S), dtype=np.float32))
        self._mux(None)  # flush the encoder's delayed frames
        try:
            self._container.close()  # writes the trailer (Ogg end page, FLAC/Xing headers)
        except av.FFmpegError as exc:
            raise EncodingFailed(f"cannot finish the output: {exc}") from exc

    def _mux(self, frame: av.AudioFrame | None) -> None:
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except av.FFmpegError as exc:
            raise EncodingFailed(f"encoding failed: {exc}") from exc


ARITHMETIC_FORMATS = frozenset({AudioFormat.pcm, AudioFormat.wav, AudioFormat.mulaw})
"""Formats :func:`encode` writes with plain arithmetic, no codec library: encoding a
clip at a validated rate cannot fail."""


def encode(pcm: Pcm, rate: int, fmt: AudioFormat | str) -> bytes:
    """Encode a whole mono clip already sampled at ``rate`` into a complete file of ``fmt``."""
    fmt = parse_format(fmt)
    validate_sample_rate(fmt, rate)
    if fmt is AudioFormat.wav:
        data = to_int16_bytes(pcm)
        return wav_header(rate, len(data)) + data
    if fmt is AudioFormat.pcm:
        return to_int16_bytes(pcm)
    if fmt is AudioFormat.mulaw:
        return mulaw_encode(pcm)
    buffer = io.BytesIO()  # seekable, so mp3 gets its Xing/LAME header (gapless, duration)
    encoder = _AvEncoder(fmt, rate, buffer, streaming=False)
    encoder.write(pcm)
    encoder.close()
    return buffer.getvalue()


UNSTREAMABLE_FORMATS = frozenset({AudioFormat.flac})
"""Formats ``StreamEncoder`` refuses: FLAC's header needs the total length."""


class StreamEncoder:
    """Incremental encoder for one stream: feed PCM chunks, send what comes back.

    ``encode`` returns the bytes ready so far (possibly empty while a lossy encoder
    fills a frame or page); ``finish`` flushes the rest and ends the stream. Not
    thread-safe; use one instance per stream. See the module docstring for the
    per-format stream conventions.
    """

    def __init__(self, fmt: AudioFormat | str, rate: int) -> None:
        self.format = parse_format(fmt)
        self.rate = rate
        validate_sample_rate(self.format, rate)
        self._sink = _ChunkSink()
        self._av: _AvEncoder | None = None
        if self.format in (AudioFormat.mp3, AudioFormat.opus, AudioFormat.flac):
            self._av = _AvEncoder(self.format, rate, self._sink, streaming=True)
        self._header_pending = self.format is AudioFormat.wav
        self._finished = False

    @property
    def delay_samples(self) -> int:
        """Samples a decoder plays before the first one fed in: nonzero only for MP3,
        whose bare frames cannot tell it to trim LAME's priming (Ogg Opus carries its
        pre-skip, which decoders honour). Anything timed against the fed audio (segment
        and word times) is heard this much later."""
        return _MP3_PRIMING_SAMPLES if self.format is AudioFormat.mp3 else 0

    @property
    def delay_seconds(self) -> float:
        """:attr:`delay_samples` in seconds at the stream's rate."""
        return self.delay_samples / self.rate

    def encode(self, pcm: Pcm) -> bytes:
        """Encode ``pcm`` (at ``rate``); returns the encoded bytes available now."""
        if self._finished:
            raise CodecError("stream already finished")
        header = self._take_header()
        if self._av is not None:
            self._av.write(pcm)
            return self._sink.drain()
        if self.format is AudioFormat.mulaw:
            return mulaw_encode(pcm)
        return header + to_int16_bytes(pcm)

    def finish(self) -> bytes:
        """Flush buffered audio and end the stream; returns the final bytes."""
        if self._finished:
            return b""
        self._finished = True
        header = self._take_header()
        if self._av is not None:
            self._av.close()
            return self._sink.drain()
        return header

    def push_out_held_audio(self) -> bytes:
        """Encode silence until everything fed so far has come out; returns the bytes.
        What the encoder then holds is silence: a stream cut here (a barge-in) starts
        its next reply without the cut speech's tail."""
        seconds = _held_seconds(self.format, self.rate)
        if not seconds or self._finished:
            return b""
        return self.encode(np.zeros(round(seconds * self.rate), np.float32))

    def _take_header(self) -> bytes:
        if not self._header_pending:
            return b""
        self._header_pending = False
        return wav_header(self.rate, None)


class FileEncoder:
    """Incremental encoder into a seekable file (long job output), any format.

    Unlike ``StreamEncoder`` it may seek back, so every format gets its complete
    headers: WAV sizes, FLAC STREAMINFO, the MP3 Xing/LAME header.
    """

    def __init__(self, fmt: AudioFormat | str, rate: int, file: BinaryIO) -> None:
        self.format = parse_format(fmt)
        self.rate = rate
        validate_sample_rate(self.format, rate)
        self._file = file
        self._data_bytes = 0
        self._av: _AvEncoder | None = None
        if self.format in (AudioFormat.mp3, AudioFormat.opus, AudioFormat.flac):
            self._av = _AvEncoder(self.format, rate, file, streaming=False)
        elif self.format is AudioFormat.wav:
            # Rewritten with the real size by finish(); the reserved room lets that be an
            # RF64 header, of the same length, if the audio passes 4 GiB.
            file.write(wav_header(rate, 0, reserve_ds64=True))

    def write(self, pcm: Pcm) -> None:
        if self._av is not None:
            self._av.write(pcm)
            return
        data = mulaw_encode(pcm) if self.format is AudioFormat.mulaw else to_int16_bytes(pcm)
        self._file.write(data)
        self._data_bytes += len(data)

    def finish(self) -> None:
        if self._av is not None:
            self._av.close()
        elif self.format is AudioFormat.wav:
            end = self._file.tell()
            self._file.seek(0)
            self._file.write(wav_header(self.rate, self._data_bytes, reserve_ds64=True))
            self._file.seek(end)
