"""Decoding uploaded audio safely: wav, mp3, ogg (Opus/Vorbis), flac, m4a/aac, webm,
aiff (what a Mac's recorders save). Not caf: its packet table makes FFmpeg index one
entry per byte as it opens the file, before any cap applies (a 25 MB upload took 680 MB).

Uploads are untrusted, so the demuxer is chosen from the file's magic bytes (never by
FFmpeg's probing, which would also accept playlists and concat scripts that open other
files), nested opens are forbidden, and decoding stops at a duration cap and a
wall-clock deadline. The result is mono float32 PCM at the file's own rate.

Channels are decoded at the file's own layout and averaged here, not downmixed by
libswresample: its matrix adds channels (an L=R stereo file comes out 3 dB hotter,
six identical channels at peak 0.5 come out at 1.7), which would fail good stereo as
clipped. Clipping is measured on every channel before the average, so a clipped
channel beside a silent one still counts.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.voices.acoustics import clipped_instants
from scaispeak.speak.voices.errors import AudioTooLong, AudioUnreadable

ACCEPTED_FORMATS = "wav, mp3, ogg/opus, flac, m4a/aac, webm or aiff"
"""What an upload may be, as the API documents it (``sniff_container`` decides)."""
MIN_SAMPLE_RATE = 8_000
"""Telephone audio; below it there is no speech band to analyse (and a rate of a few
hertz broke the loudness measurement, whose blocks are fractions of a second)."""
MAX_SAMPLE_RATE = 192_000
_MPEG_LAYER_MASK = 0x06


@dataclass(frozen=True)
class DecodedAudio:
    pcm: Pcm
    rate: int
    container: str
    codec: str
    channels: int
    clipped_fraction: float | None = None
    """Share of sample instants at which some channel touched full scale, measured
    before the channels were averaged; None for PCM that never had other channels."""

    @property
    def duration_s(self) -> float:
        return self.pcm.size / self.rate if self.rate else 0.0


def sniff_container(head: bytes) -> str | None:
    """The demuxer for a file's first bytes, or None for anything we do not accept."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # Both are frame-synced; ADTS (raw AAC) has layer bits 00, MPEG audio does not.
        return "aac" if head[1] & _MPEG_LAYER_MASK == 0 else "mp3"
    return None


def decode_audio(
    data: bytes, *, max_seconds: float, timeout_s: float, max_rate: int | None = None
) -> DecodedAudio:
    """Decode ``data`` to mono float32, resampled down to ``max_rate`` where it is
    higher (analysis that needs no more keeps its memory to what it uses); raises
    ``AudioUnreadable`` or ``AudioTooLong``."""
    container_name = sniff_container(data[:16])
    if container_name is None:
        raise AudioUnreadable(f"Unrecognised audio file; send {ACCEPTED_FORMATS}.")
    try:
        deadline = time.monotonic() + timeout_s
        return _decode(data, container_name, max_seconds, deadline, max_rate)
    except av.FFmpegError as exc:
        # FFmpeg's own words ("[Errno 1094995529] Invalid data found when processing
        # input: '<none>'") tell a user nothing; the cause stays in the chain for logs.
        raise AudioUnreadable(
            f"The file looks like {container_name} but could not be decoded: it may be cut"
            f" short or damaged. Export it again, or send {ACCEPTED_FORMATS}."
        ) from exc


def _decode(
    data: bytes, fmt: str, max_seconds: float, deadline: float, max_rate: int | None
) -> DecodedAudio:
    # protocol_whitelist stops a demuxer from opening anything beyond our buffer.
    options = {"protocol_whitelist": "none"}
    # Tags are never read here: one written in Latin-1 by an older tagger ("Andr\xe9")
    # raised UnicodeDecodeError as the file opened, a 500 for a clip that plays.
    opened = av.open(
        io.BytesIO(data), mode="r", format=fmt, options=options, metadata_errors="replace"
    )
    with opened as container:
        if not container.streams.audio:
            raise AudioUnreadable("The file holds no audio stream.")
        stream = container.streams.audio[0]
        if stream.codec_context is None:
            # A header naming no coding FFmpeg knows (a WAV of 0 bits per sample)
            raise AudioUnreadable(
                "The file's audio is in a coding that cannot be decoded here; send wav "
                "(PCM), mp3, ogg, flac, m4a or webm."
            )
        rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise AudioUnreadable(
                f"Unsupported sample rate {rate} Hz; "
                f"send {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz audio."
            )
        rate = min(rate, max_rate or rate)
        mix = _Downmix(int(max_seconds * rate), max_seconds, deadline)
        for out in _resampled(container.decode(stream), rate):
            mix.add(out)
            mix.check_limits()
        channels = int(stream.codec_context.channels or 1)
        codec = stream.codec_context.name
    pcm = mix.pcm()
    if pcm.size == 0:
        raise AudioUnreadable("The file decodes to no audio at all.")
    clipped = mix.clipped / pcm.size
    return DecodedAudio(pcm, rate, fmt, codec, channels, clipped)


def _resampled(frames: Iterator[av.AudioFrame], rate: int) -> Iterator[av.AudioFrame]:
    """``frames`` as packed float at ``rate``. A resampler takes the rate and channels
    of its first frame and refuses others (a ValueError, which was a 500), and files
    join parts that differ (two MP3s concatenated: 44.1 kHz then 16 kHz, mono then
    stereo), so a new one is made where the input changes."""
    resampler, source = None, None
    for frame in frames:
        shape = (frame.sample_rate, frame.layout.name, frame.format.name)
        if resampler is None or shape != source:
            if resampler is not None:
                yield from resampler.resample(None)
            # No layout: keep the frame's channels. Packed float, because PyAV's planar
            # to_ndarray crashes the process on 8-channel frames.
            resampler, source = av.AudioResampler(format="flt", rate=rate), shape
        yield from resampler.resample(frame)
    if resampler is not None:
        yield from resampler.resample(None)


# The average keeps less than this share of the channels' own energy only when they
# cancel: a stereo file with one channel's polarity inverted (a miswired microphone)
# averages to near silence and was reported as "no speech". Uncorrelated channels keep
# about half, identical ones all of it.
CANCELLED_ENERGY_SHARE = 0.1


class _Downmix:
    """Averages decoded frames to mono, counting clipped instants and the duration.
    Where the average cancels out, the first channel is used alone."""

    def __init__(self, limit: int, max_seconds: float, deadline: float) -> None:
        self.limit, self.max_seconds, self.deadline = limit, max_seconds, deadline
        self.pieces: list[Pcm] = []
        self.first_channel: list[Pcm] = []
        self.mix_energy = 0.0
        self.channel_energy = 0.0
        self.total = 0
        self.clipped = 0

    def add(self, frame: av.AudioFrame) -> None:
        block = frame.to_ndarray().reshape(-1, frame.layout.nb_channels)
        # Float files can hold NaN, infinities and values past full scale; a speaker
        # plays them at full scale. Left in, a few infinite samples made every score
        # computed from the clip NaN, and NaN compared as "pass" (the watermark check
        # among them, so a replay of our own speech got through).
        block = np.clip(np.nan_to_num(block.astype(np.float32), nan=0.0), -1.0, 1.0)
        self.clipped += clipped_instants(block)
        mixed = block.mean(axis=1, dtype=np.float32)
        self.pieces.append(mixed)
        self.first_channel.append(np.ascontiguousarray(block[:, 0]))
        self.mix_energy += float(np.dot(mixed, mixed))
        self.channel_energy += float(np.sum(np.square(block, dtype=np.float64))) / block.shape[1]
        self.total += block.shape[0]

    def check_limits(self) -> None:
        _check_limits(self.total, self.limit, self.max_seconds, self.deadline)

    def pcm(self) -> Pcm:
        if not self.pieces:
            return np.zeros(0, np.float32)
        if self.mix_energy < CANCELLED_ENERGY_SHARE * self.channel_energy:
            return np.concatenate(self.first_channel)
        return np.concatenate(self.pieces)


def _check_limits(total: int, limit: int, max_seconds: float, deadline: float) -> None:
    if total > limit:
        raise AudioTooLong(f"The audio is longer than {max_seconds:g} s; trim it.")
    if time.monotonic() > deadline:
        raise AudioTooLong("Decoding the file took too long; send a simpler or shorter file.")
