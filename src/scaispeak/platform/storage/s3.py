"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2…) through obstore.

``SCAISPEAK_STORAGE_URL=s3://bucket/prefix?endpoint=http://host:9000&region=us-east-1``.
Credentials come from ``SCAISPEAK_STORAGE_ACCESS_KEY_ID`` / ``…_SECRET_ACCESS_KEY``; left
unset, obstore's usual AWS chain applies (``AWS_*`` variables, instance roles).

Streams go up as multipart uploads of ``PART_BYTES`` parts, at most ``PART_CONCURRENCY``
in flight, so an upload holds about ``PART_BYTES × PART_CONCURRENCY`` in memory whatever
the file size. S3 makes an object visible only when its upload completes, and obstore
aborts the multipart upload when the source stream raises, so a failed put leaves nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import anyio
import obstore
from obstore.exceptions import GenericError, NotFoundError
from obstore.store import S3Store

from scaispeak.platform.db import utcnow
from scaispeak.platform.storage.base import (
    STREAM_CHUNK_BYTES,
    BlobNotFound,
    BlobStat,
    StorageRefused,
    StorageUnavailable,
    check_key,
    read_all,
)

if TYPE_CHECKING:
    from obstore import GetOptions
    from obstore.store import ClientConfig, RetryConfig

PART_BYTES = 8 * 1024 * 1024
PART_CONCURRENCY = 4

# obstore reports a missing object as its own NotFoundError or as FileNotFoundError.
_MISSING = (NotFoundError, FileNotFoundError)
_UNANSWERED = (ConnectionError, TimeoutError)
# A 4xx that another try may not meet: a timeout, throttling, a conflict of writers.
_TRANSIENT_4XX = frozenset({408, 409, 429})
_STATUS = re.compile(r"status code: (\d{3})")
_RANGE_NOT_SATISFIABLE = 416


def http_status_of(exc: Exception) -> int | None:
    """The HTTP status an obstore error reports in its message, if any (it has no
    attribute for it): "Server returned non-2xx status code: 403 Forbidden"."""
    found = _STATUS.search(str(exc))
    return int(found[1]) if found else None


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    endpoint: str | None
    region: str


def parse_s3_url(url: str) -> S3Location:
    """Split ``s3://bucket/prefix?endpoint=…&region=…`` into its parts; without
    ``region``, the environment's ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"Not an s3://bucket[/prefix] URL: {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"endpoint", "region"}
    if unknown:
        raise ValueError(f"Unknown storage URL options: {sorted(unknown)}")
    return S3Location(
        bucket=parts.netloc,
        prefix=parts.path.strip("/"),
        endpoint=query.get("endpoint"),
        region=query.get("region") or _region_from_environment(),
    )


def _region_from_environment() -> str:
    """The region the AWS tools would use (a bucket in another one refuses every request
    signed for us-east-1); us-east-1, their default, when none is set."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


# A store that stops answering is StorageUnavailable within about 20 s: obstore's
# defaults (30 s a request, ten retries over three minutes) held every request and job
# checkpoint on a stalled endpoint for 181 s. The read timeout is between two reads, so
# long transfers that keep moving are not cut.
_TIMEOUTS: ClientConfig = {
    "connect_timeout": timedelta(seconds=5),
    "read_timeout": timedelta(seconds=10),
}
_RETRIES: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=15)}


class S3BlobStore:
    def __init__(self, store: S3Store) -> None:
        self._store = store

    @classmethod
    def from_url(
        cls, url: str, access_key_id: str | None = None, secret_access_key: str | None = None
    ) -> S3BlobStore:
        where = parse_s3_url(url)
        store = S3Store(
            where.bucket,
            prefix=where.prefix or None,
            config={
                "region": where.region,
                **({"endpoint": where.endpoint} if where.endpoint else {}),
                **({"access_key_id": access_key_id} if access_key_id else {}),
                **({"secret_access_key": secret_access_key} if secret_access_key else {}),
            },
            # Path-style requests work with every S3 clone; plain http only for a
            # deliberately configured endpoint (a MinIO next to the service).
            client_options={
                "allow_http": bool(where.endpoint and where.endpoint[:5] == "http:"),
                **_TIMEOUTS,
            },
            retry_config=_RETRIES,
        )
        return cls(store)

    async def put_bytes(self, key: str, data: bytes) -> BlobStat:
        with _answered(key):
            await obstore.put_async(self._store, check_key(key), data, use_multipart=False)
        return BlobStat(key, len(data), utcnow())

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobStat:
        size = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in chunks:
                size += len(chunk)
                yield chunk

        with _answered(key):
            await obstore.put_async(
                self._store,
                check_key(key),
                counted(),
                chunk_size=PART_BYTES,
                max_concurrency=PART_CONCURRENCY,
            )
        return BlobStat(key, size, utcnow())

    async def put_file(self, key: str, path: Path) -> BlobStat:
        size = (await anyio.Path(path).stat()).st_size
        with _answered(key):
            await obstore.put_async(
                self._store,
                check_key(key),
                path,
                chunk_size=PART_BYTES,
                max_concurrency=PART_CONCURRENCY,
            )
        return BlobStat(key, size, utcnow())

    async def get(self, key: str) -> bytes:
        with _answered(key):
            result = await obstore.get_async(self._store, check_key(key))
            return bytes(await result.bytes_async())

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        return await read_all(self.stream(key, start, end))

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return  # S3 refuses empty ranges; the answer is simply no bytes
        options: GetOptions = {}
        if end is not None:
            options["range"] = (start, end)
        elif start:
            options["range"] = {"offset": start}
        try:
            with _answered(key):
                result = await obstore.get_async(self._store, check_key(key), options=options)
        except StorageRefused as exc:
            if exc.status == _RANGE_NOT_SATISFIABLE:
                return  # a range past the end: no bytes, as the local store answers
            raise
        with _answered(key):  # not around the yield: the consumer's errors stay its own
            chunks = result.stream(min_chunk_size=STREAM_CHUNK_BYTES)
        while True:
            with _answered(key):
                chunk = await anext(chunks, None)
            if chunk is None:
                return
            yield chunk

    async def stat(self, key: str) -> BlobStat:
        with _answered(key):
            meta = await obstore.head_async(self._store, check_key(key))
        return BlobStat(key, meta["size"], meta["last_modified"])

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except BlobNotFound:
            return False
        return True

    async def delete(self, key: str) -> None:
        with _answered(key):
            await obstore.delete_async(self._store, check_key(key))


@contextmanager
def _answered(key: str) -> Iterator[None]:
    """obstore's errors as ours: a missing object is BlobNotFound; a store that did not
    answer (down, unreachable, timing out, a 5xx, throttling) is StorageUnavailable,
    which callers treat as transient; one that refused (a 403 for a policy, a 400) is
    StorageRefused, which retrying will not mend. Errors raised by our own code (a
    source stream's size limit) pass through unchanged."""
    try:
        yield
    except _MISSING as exc:
        raise BlobNotFound(key) from exc
    except GenericError as exc:
        status = http_status_of(exc)
        if status is not None and 400 <= status < 500 and status not in _TRANSIENT_4XX:
            raise StorageRefused(f"The blob store refused {key!r}: {exc}", status) from exc
        raise StorageUnavailable(
            f"The blob store did not answer ({type(exc).__name__}); retry shortly."
        ) from exc
    except _UNANSWERED as exc:
        raise StorageUnavailable(
            f"The blob store did not answer ({type(exc).__name__}); retry shortly."
        ) from exc
