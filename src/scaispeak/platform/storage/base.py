"""The blob-store interface: opaque string keys to immutable bytes.

The drive (and later the speech module's jobs) keep metadata in the database and bytes
here. A store never shows a half-written blob: a put either lands whole or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from scaispeak.platform.errors import Unavailable, innermost_cause

MAX_KEY_BYTES = 900
"""Below S3's 1024-byte key limit, leaving room for a configured prefix."""

STREAM_CHUNK_BYTES = 1024 * 1024
"""Size of the pieces ``stream`` yields: large enough for throughput, small for memory."""


class BlobNotFound(LookupError):
    """No blob under that key. Not a ServiceError: callers decide what it means."""


class StorageRefused(RuntimeError):
    """The blob store answered and refused (403 for credentials or a policy, 400): not
    transient, so not a 503 to retry but the server's fault, logged as a 500."""

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status


class StorageUnavailable(Unavailable):
    """The blob store did not answer (an S3 endpoint down or unreachable): transient,
    so a 503 with Retry-After, and a job is left to be retried rather than failed."""

    code, title = "storage_unavailable", "Storage unavailable"
    retry_after = 5


class InvalidBlobKey(ValueError):
    """A key that could escape the store's root or that S3 would refuse."""


@dataclass(frozen=True)
class BlobStat:
    key: str
    size: int
    modified: datetime


class BlobStore(Protocol):
    """Async access to blobs. ``end`` offsets are exclusive, like Python slices."""

    async def put_bytes(self, key: str, data: bytes) -> BlobStat:
        """Store ``data`` under ``key``, replacing any blob there."""
        ...

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobStat:
        """Store a stream. If ``chunks`` raises, nothing is left under ``key``."""
        ...

    async def put_file(self, key: str, path: Path) -> BlobStat:
        """Store a local file's bytes without reading it into memory at once."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive), clipped at the end of the blob."""
        ...

    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Yield the blob's bytes (or a range of them) in pieces."""
        ...

    async def stat(self, key: str) -> BlobStat: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error (deletes are retried)."""
        ...


def check_key(key: str) -> str:
    """Refuse keys that are empty, absolute, contain ``..`` or empty segments, or are long."""
    segments = key.split("/")
    if (
        not key
        or len(key.encode()) > MAX_KEY_BYTES
        or any(s in ("", ".", "..") for s in segments)
        or "\\" in key
        or "\x00" in key
    ):
        raise InvalidBlobKey(f"Invalid blob key {key!r}.")
    return key


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    """Join a stream; for the small blobs that ``get`` and ``get_range`` return."""
    parts = [chunk async for chunk in chunks]
    return b"".join(parts)


class StorageUnusable(RuntimeError):
    """The blob store cannot keep a blob and give it back (a missing bucket, wrong
    credentials, a read-only directory): the service would fail every write."""


PROBE_PREFIX = "_probe"


async def check_round_trip(store: BlobStore) -> None:
    """Store, read back and delete a small blob, once at start-up.

    Without it a missing S3 bucket surfaces as the first clone's or job's 500, and
    reads of it as 404s (a missing bucket looks like a missing blob); a process that
    cannot store should refuse to start, saying why.
    """
    key = f"{PROBE_PREFIX}/{uuid.uuid4().hex}"
    try:
        await store.put_bytes(key, b"probe")
        read_back = await store.get(key)
        await store.delete(key)
    except Exception as exc:
        # The innermost reason names what failed (the bucket, the endpoint refusing);
        # ours only say "not found" or "did not answer".
        cause = innermost_cause(exc)
        why = repr(exc) if cause is exc else f"{exc!r}, because {cause}"
        raise StorageUnusable(f"blob storage cannot store and read back a blob: {why}") from exc
    if read_back != b"probe":
        raise StorageUnusable("blob storage gave back other bytes than it was given")
