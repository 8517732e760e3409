"""Blobs as files under a directory (embedded mode's default: ``<data_dir>/blobs``).

A put writes a temporary file in ``tmp/`` (same file system), fsyncs it and renames it
over ``objects/<key>``: readers see the old blob or the new one, never a partial one.
Reads and writes run in worker threads so large files never block the event loop.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import anyio

from scaispeak.platform.storage.base import (
    STREAM_CHUNK_BYTES,
    BlobNotFound,
    BlobStat,
    check_key,
    read_all,
)

_STALE_TEMP_SECONDS = 24 * 3600
"""Temp files older than this were left by a crash; younger ones may be another
process's upload in flight (API and workers can share one data dir)."""


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects = root / "objects"
        self._tmp = root / "tmp"
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._sweep_stale_temp()

    def _path(self, key: str) -> Path:
        return self._objects / check_key(key)

    async def put_bytes(self, key: str, data: bytes) -> BlobStat:
        async def single() -> AsyncIterator[bytes]:
            yield data

        return await self.put_stream(key, single())

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobStat:
        target = self._path(key)
        temp = self._tmp / uuid.uuid4().hex
        try:
            async with await anyio.open_file(temp, "wb") as out:
                # Coalesce small request chunks so each thread hop writes a useful amount.
                pending = bytearray()
                async for chunk in chunks:
                    pending += chunk
                    if len(pending) >= STREAM_CHUNK_BYTES:
                        await out.write(bytes(pending))
                        pending.clear()
                await out.write(bytes(pending))
                await out.flush()
                await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
            await anyio.to_thread.run_sync(_publish, temp, target)
        except BaseException:
            # Synchronous on purpose: an unlink is quick, and it must run even when the
            # task is being cancelled (an await here could be cancelled again).
            temp.unlink(missing_ok=True)
            raise
        return await self.stat(key)

    async def put_file(self, key: str, path: Path) -> BlobStat:
        target = self._path(key)
        temp = self._tmp / uuid.uuid4().hex
        try:
            await anyio.to_thread.run_sync(_copy_durably, path, temp)
            await anyio.to_thread.run_sync(_publish, temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return await self.stat(key)

    async def get(self, key: str) -> bytes:
        return await read_all(self.stream(key))

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        return await read_all(self.stream(key, start, end))

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle: BinaryIO = await anyio.to_thread.run_sync(path.open, "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        try:
            await anyio.to_thread.run_sync(handle.seek, start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                want = (
                    STREAM_CHUNK_BYTES if remaining is None else min(remaining, STREAM_CHUNK_BYTES)
                )
                chunk = await anyio.to_thread.run_sync(handle.read, want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            handle.close()

    async def stat(self, key: str) -> BlobStat:
        path = self._path(key)
        try:
            info = await anyio.to_thread.run_sync(path.stat)
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        return BlobStat(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._path(key).unlink(missing_ok=True))

    def _sweep_stale_temp(self) -> None:
        cutoff = time.time() - _STALE_TEMP_SECONDS
        for entry in self._tmp.iterdir():
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)


def _copy_durably(source: Path, temp: Path) -> None:
    """Copy and fsync before the publishing rename, as ``put_stream`` does: after a
    power cut a job's audio must not be renamed into place short or empty."""
    shutil.copyfile(source, temp)
    with temp.open("rb") as copied:
        os.fsync(copied.fileno())


def _publish(temp: Path, target: Path) -> None:
    """Move the finished (fsynced) file into place, durably: the rename itself lives in
    the directory, which is fsynced too, or a power cut after the database commit that
    points at the blob could leave the row with no file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
