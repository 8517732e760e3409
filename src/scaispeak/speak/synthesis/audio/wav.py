"""Headers of mono 16-bit PCM WAV files, RF64 (EBU Tech 3306) past RIFF's 4 GiB.

RIFF stores its sizes in 32 bits, so a file over 4 GiB (about 12.4 h at 48 kHz, which a
long job at half speed reaches) cannot say how long it is. RF64 keeps the WAV layout
but names the file ``RF64``, sets the 32-bit sizes to ``0xFFFFFFFF`` and gives the real
ones in a ``ds64`` chunk right after ``WAVE``. A writer that learns the size only at
the end reserves room for that chunk with a ``JUNK`` chunk of the same size, which any
WAV reader skips, and turns it into ``ds64`` only if the file outgrows RIFF.
"""

from __future__ import annotations

import struct

UNKNOWN_SIZE = 0xFFFFFFFF
"""A 32-bit size that means 'not known here': a stream's length, or RF64's 'see ds64'."""

_FMT = struct.Struct("<4sIHHIIHH")  # 'fmt ' chunk: PCM, mono, rate, byte rate, align, bits
_DS64 = struct.Struct("<4sIQQQI")  # 'ds64': RIFF size, data size, sample count, table length
_RESERVED = _DS64.size  # a JUNK chunk as large as ds64, so one can replace the other
_BYTES_PER_SAMPLE = 2

CANONICAL_HEADER_BYTES = 12 + _FMT.size + 8
"""44: RIFF/WAVE, the fmt chunk and the data chunk's header."""
RESERVED_HEADER_BYTES = CANONICAL_HEADER_BYTES + _RESERVED
"""80: the same with room for a ds64 chunk (RF64, or RIFF with JUNK in its place)."""


def wav_header(rate: int, data_bytes: int | None, *, reserve_ds64: bool = False) -> bytes:
    """The header for ``data_bytes`` of mono 16-bit PCM at ``rate``.

    ``None`` writes the 'unknown size' marker a stream uses (44 bytes, both sizes
    ``0xFFFFFFFF``). Data too large for RIFF gets an RF64 header (80 bytes); so does any
    size with ``reserve_ds64``, which otherwise writes RIFF with a JUNK chunk in place
    of ds64: a writer that seeks back to fill in the size at the end needs the header
    to stay the same length whichever of the two it turns out to be.
    """
    if data_bytes is None:
        return _riff(rate, UNKNOWN_SIZE, UNKNOWN_SIZE)
    if _fits_riff(data_bytes):
        if not reserve_ds64:
            return _riff(rate, CANONICAL_HEADER_BYTES - 8 + data_bytes, data_bytes)
        return _riff_with_junk(rate, data_bytes)
    return rf64_header(rate, data_bytes)


def _fits_riff(data_bytes: int) -> bool:
    # One limit for both header sizes (the larger one's), kept below 0xFFFFFFFF, which
    # readers take for 'unknown size'.
    return RESERVED_HEADER_BYTES - 8 + data_bytes <= UNKNOWN_SIZE - 1


def _riff(rate: int, riff_size: int, data_size: int) -> bytes:
    return _opening(b"RIFF", riff_size) + _fmt_chunk(rate) + _data_chunk_header(data_size)


def _riff_with_junk(rate: int, data_bytes: int) -> bytes:
    junk = struct.pack("<4sI", b"JUNK", _RESERVED - 8) + bytes(_RESERVED - 8)
    riff_size = RESERVED_HEADER_BYTES - 8 + data_bytes
    return _opening(b"RIFF", riff_size) + junk + _fmt_chunk(rate) + _data_chunk_header(data_bytes)


def rf64_header(rate: int, data_bytes: int) -> bytes:
    """The RF64 header (80 bytes) for ``data_bytes`` of mono 16-bit PCM at ``rate``: what
    :func:`wav_header` writes past 4 GiB, valid (if unusual) for any size."""
    riff_size = RESERVED_HEADER_BYTES - 8 + data_bytes
    samples = data_bytes // _BYTES_PER_SAMPLE
    ds64 = _DS64.pack(b"ds64", _RESERVED - 8, riff_size, data_bytes, samples, 0)
    opening = _opening(b"RF64", UNKNOWN_SIZE)
    return opening + ds64 + _fmt_chunk(rate) + _data_chunk_header(UNKNOWN_SIZE)


def _opening(kind: bytes, riff_size: int) -> bytes:
    return struct.pack("<4sI4s", kind, riff_size, b"WAVE")


def _fmt_chunk(rate: int) -> bytes:
    byte_rate = rate * _BYTES_PER_SAMPLE
    return _FMT.pack(b"fmt ", 16, 1, 1, rate, byte_rate, _BYTES_PER_SAMPLE, 16)


def _data_chunk_header(data_size: int) -> bytes:
    return struct.pack("<4sI", b"data", data_size)
