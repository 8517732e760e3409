"""Blob storage behind one interface: local disk (default) or S3-compatible.

``open_blob_store(settings)`` picks the backend from ``SCAISPEAK_STORAGE_URL``: unset
means ``<data_dir>/blobs``; ``file:///path`` another directory; ``s3://bucket/prefix``
a bucket (see ``s3.py``). Domain code sees only ``BlobStore``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scaispeak.platform.storage.base import (
    BlobNotFound,
    BlobStat,
    BlobStore,
    InvalidBlobKey,
    StorageUnusable,
    check_round_trip,
)
from scaispeak.platform.storage.local import LocalBlobStore
from scaispeak.platform.storage.s3 import S3BlobStore
from scaispeak.settings import ConfigurationError, Settings

__all__ = [
    "BlobNotFound",
    "BlobStat",
    "BlobStore",
    "InvalidBlobKey",
    "LocalBlobStore",
    "S3BlobStore",
    "StorageUnusable",
    "check_round_trip",
    "open_blob_store",
]


_log = logging.getLogger(__name__)


def open_blob_store(settings: Settings) -> BlobStore:
    url = settings.storage_url
    if settings.redis_url and not (url or "").startswith("s3:"):
        # One host with a shared directory works; several hosts do not, and nothing
        # here can tell which this is (docs/deploy.md).
        _log.warning(
            "distributed mode (SCAISPEAK_REDIS_URL) with local blob storage: every API "
            "and worker process must share this directory; across hosts use s3://"
        )
    if not url:
        return LocalBlobStore(settings.data_dir / "blobs")
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "file":
        # "file://blobs/x" names host "blobs" and path /x: the blobs would land at /x.
        if parts.netloc not in ("", "localhost"):
            raise ConfigurationError(
                f"SCAISPEAK_STORAGE_URL {url!r} names a host ({parts.netloc!r}): a folder "
                "is file:///absolute/path (three slashes)."
            )
        return LocalBlobStore(Path(unquote(parts.path)))
    if scheme == "s3":
        secret = settings.storage_secret_access_key
        return S3BlobStore.from_url(
            url,
            settings.storage_access_key_id,
            secret.get_secret_value() if secret else None,
        )
    raise ConfigurationError(f"SCAISPEAK_STORAGE_URL must be file:// or s3://, not {scheme!r}.")
