"""Serve a stored blob over HTTP with single byte-range support (200 or 206).

Drive downloads and job audio both answer this way; keeping it in one place means both
honour ``Range`` identically and both fail before any header is sent when the blob is
missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import status
from fastapi.responses import StreamingResponse

from scaispeak.platform.ranges import ByteRange
from scaispeak.platform.storage.base import BlobStore


async def blob_response(
    storage: BlobStore,
    key: str,
    size: int,
    wanted: ByteRange | None,
    *,
    media_type: str,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """Stream ``key`` (``size`` bytes), or only ``wanted`` of it, with the range headers."""
    start, stop = (0, size) if wanted is None else (wanted.start, wanted.stop)
    body = await _primed(storage.stream(key, start, stop))
    sent = dict(headers or {})
    sent |= {"Accept-Ranges": "bytes", "Content-Length": str(stop - start)}
    if wanted is not None:
        sent["Content-Range"] = wanted.content_range
    code = status.HTTP_200_OK if wanted is None else status.HTTP_206_PARTIAL_CONTENT
    return StreamingResponse(body, code, headers=sent, media_type=media_type)


async def _primed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Fetch the first piece now, so a missing blob fails before any header is sent."""
    try:
        first: bytes | None = await anext(chunks)
    except StopAsyncIteration:
        first = None

    async def rest() -> AsyncIterator[bytes]:
        if first is not None:
            yield first
        async for chunk in chunks:
            yield chunk

    return rest()
