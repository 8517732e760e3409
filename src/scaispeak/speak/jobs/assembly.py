"""Joining a job's checkpointed segments into one encoded file, a segment at a time.

A 500,000-character job is hours of audio; it is never held in memory at once. Each
segment blob is read, faded at its edges (so joins do not click), resampled to the
output rate and limited again to the ceiling, followed by its pause, and fed to a
streaming encoder that writes a temporary file in the worker's scratch folder; the
file is then stored as one blob.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import tempfile
import time
import wave
from pathlib import Path
from typing import BinaryIO

from scaispeak.platform.storage.base import BlobStore
from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.provenance.capture import StreamCapture
from scaispeak.speak.synthesis.audio import (
    AudioFormat,
    FileEncoder,
    from_int16_bytes,
    shape_segment,
    silence,
    to_int16_bytes,
    wav_header,
)

_log = logging.getLogger(__name__)

STALE_SCRATCH_S = 3600
"""A join writes its file continuously and stores it within minutes; a file untouched
for an hour was left by a worker killed mid-join (several processes may share one
data dir, so a younger file may be another's join in flight)."""


def prepare_scratch(folder: Path) -> None:
    """Make the folder joins write in, and delete what killed workers left there: a
    join's file is as large as the job's audio, and nothing else would remove it."""
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - STALE_SCRATCH_S
    for entry in folder.iterdir():
        if entry.is_file() and entry.stat().st_mtime < cutoff:
            _log.info("removing a join's file left by a stopped worker: %s", entry.name)
            entry.unlink(missing_ok=True)


def segment_key(job_id: str, index: int) -> str:
    return f"jobs/{job_id}/segments/{index:06d}.wav"


def result_key(job_id: str, fmt: AudioFormat) -> str:
    return f"jobs/{job_id}/audio.{fmt.value}"


def written_segments(segments_done: int, segments_total: int) -> int:
    """How many segment blobs may exist: the finished ones, plus the one a worker may
    have stored just before it was stopped (segments are written in order, and a
    blob is stored before ``segments_done`` moves past it)."""
    return min(segments_done + 1, segments_total)


async def discard_job_blobs(
    storage: BlobStore, job_id: str, segments: int, fmt: AudioFormat
) -> bool:
    """Delete a failed or cancelled job's checkpoints and unfinished result; whether
    every one is gone.

    Nothing will resume from them. A blob that cannot be deleted is logged and left
    to the leftover sweep (leftovers.py); it never fails the cancel or the failure
    being recorded.
    """
    checkpoints = await discard_checkpoints(storage, job_id, segments)
    return await _delete_or_log(storage, job_id, result_key(job_id, fmt)) and checkpoints


DELETES_AT_ONCE = 16
"""Checkpoint deletions in flight together: a long job has thousands, one request each
on S3."""

_deleting: set[asyncio.Task[bool]] = set()
"""Deletions whose caller was cancelled, held so they run to their end."""


async def discard_checkpoints(storage: BlobStore, job_id: str, segments: int) -> bool:
    """Delete a job's first ``segments`` checkpoints; whether every one is gone (as
    above: once the job succeeded, a storage hiccup here must not look like the job's
    failure).

    They are deleted to the end even if the caller is cancelled meanwhile (a client
    that gave up on its ``DELETE``): nobody else would delete the rest."""
    keys = [segment_key(job_id, index) for index in range(segments)]
    work = asyncio.ensure_future(delete_all(storage, job_id, keys))
    _deleting.add(work)
    work.add_done_callback(_deleting.discard)
    return await asyncio.shield(work)


async def delete_all(
    storage: BlobStore, job_id: str, keys: list[str], *, stop_at_failure: bool = False
) -> bool:
    """Delete ``keys``, a few at a time; whether every one is gone. ``stop_at_failure``
    gives up after the first batch with a failure (a sweep that will come again)."""
    gone = True
    for start in range(0, len(keys), DELETES_AT_ONCE):
        batch = keys[start : start + DELETES_AT_ONCE]
        done = await asyncio.gather(*(_delete_or_log(storage, job_id, key) for key in batch))
        gone = gone and all(done)
        if not gone and stop_at_failure:
            break
    return gone


async def _delete_or_log(storage: BlobStore, job_id: str, key: str) -> bool:
    try:
        await storage.delete(key)
    except Exception:
        _log.warning("job %s: could not delete blob %s", job_id, key, exc_info=True)
        return False
    return True


def wav_bytes(pcm: Pcm, rate: int) -> bytes:
    """A checkpoint: one segment as 16-bit WAV (self-describing: it carries its rate)."""
    data = to_int16_bytes(pcm)
    return wav_header(rate, len(data)) + data


def read_wav(data: bytes) -> tuple[Pcm, int]:
    with wave.open(io.BytesIO(data)) as reader:
        rate = reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    return from_int16_bytes(frames), rate


async def assemble(
    storage: BlobStore,
    job_id: str,
    pauses_ms: list[float],
    fmt: AudioFormat,
    rate: int,
    result_key: str,
    scratch: Path,
    capture: StreamCapture | None = None,
) -> tuple[int, float]:
    """Encode every segment of the job into ``result_key``; returns (bytes, seconds).

    The file is written in ``scratch`` (see prepare_scratch); ``capture`` keeps the
    start of the audio for the job's provenance fingerprint."""
    handle, name = tempfile.mkstemp(prefix=f"{job_id}-", suffix=f".{fmt.value}", dir=scratch)
    path = Path(name)
    try:
        with os.fdopen(handle, "w+b") as out:
            samples = await _encode_segments(storage, job_id, pauses_ms, fmt, rate, out, capture)
        stat = await storage.put_file(result_key, path)
        return stat.size, samples / rate
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def _encode_segments(
    storage: BlobStore,
    job_id: str,
    pauses_ms: list[float],
    fmt: AudioFormat,
    rate: int,
    out: BinaryIO,
    capture: StreamCapture | None,
) -> int:
    encoder = FileEncoder(fmt, rate, out)
    samples = 0
    for index, pause_ms in enumerate(pauses_ms):
        blob = await storage.get(segment_key(job_id, index))
        # Resampling and encoding are CPU work: keep them off the event loop.
        samples += await asyncio.to_thread(_encode_one, encoder, blob, pause_ms, rate, capture)
    await asyncio.to_thread(encoder.finish)
    return samples


def _encode_one(
    encoder: FileEncoder, blob: bytes, pause_ms: float, rate: int, capture: StreamCapture | None
) -> int:
    pcm, source_rate = read_wav(blob)
    piece = shape_segment(pcm, 0.0, source_rate, rate)
    gap = silence(pause_ms, rate)
    if capture is not None:
        capture.add(piece)
        capture.add(gap)
    encoder.write(piece)
    encoder.write(gap)
    return len(piece) + len(gap)
