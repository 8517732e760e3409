"""Serve a stored blob over HTTP with single byte-range support (200 or 206).

Drive downloads and job audio both answer this way; keeping it in one place means both
honour ``Range`` identically and both fail before any header is sent when the blob is
missing.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from typing import Protocol

from fastapi import status
from fastapi.responses import Response, StreamingResponse

from scaispeak.platform.ranges import ByteRange
from scaispeak.platform.storage.base import BlobStore

# A file an uploader chose (a drive file, a signed consent form, a licence's proof) is
# checked at most by its first bytes: these keep a browser from guessing its way to HTML
# or running anything in it on the API's origin, where a ``?token=`` URL can be read.
SAFE_UPLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


def document_response(data: bytes, media_type: str, stem: str) -> Response:
    """An uploaded document (PDF, PNG or JPEG), shown inline but never run as a page."""
    name = stem + (mimetypes.guess_extension(media_type) or "")
    headers = {**SAFE_UPLOAD_HEADERS, "Content-Disposition": f'inline; filename="{name}"'}
    return Response(data, media_type=media_type, headers=headers)


def copy_is_current(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (or ``*``): RFC 9110 §13.1.2, compared
    weakly, as the header's list may carry ``W/`` tags."""
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def range_is_stale(if_range: str | None, etag: str) -> bool:
    """Whether ``If-Range`` names another version: the whole current blob is sent."""
    return if_range is not None and if_range.strip() != etag


class BlobAnswer(Protocol):
    """``blob_response`` or ``blob_head``: a GET and its HEAD answer alike."""

    async def __call__(
        self,
        storage: BlobStore,
        key: str,
        size: int,
        wanted: ByteRange | None,
        *,
        media_type: str,
        headers: dict[str, str] | None = None,
    ) -> Response: ...


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
    code, sent = _range_headers(size, wanted, headers, media_type)
    return StreamingResponse(body, code, headers=sent)


async def blob_head(
    storage: BlobStore,
    key: str,
    size: int,
    wanted: ByteRange | None,
    *,
    media_type: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """What ``blob_response`` would answer, without its body, the blob only looked up
    (a HEAD answered as a GET read the whole blob from storage to drop it)."""
    await storage.stat(key)  # BlobNotFound, as the GET would meet it
    code, sent = _range_headers(size, wanted, headers, media_type)
    return Response(None, code, headers=sent)


def _range_headers(
    size: int, wanted: ByteRange | None, headers: dict[str, str] | None, media_type: str
) -> tuple[int, dict[str, str]]:
    start, stop = (0, size) if wanted is None else (wanted.start, wanted.stop)
    sent = dict(headers or {})
    # The stored type as it is: given as ``media_type``, Starlette adds "charset=utf-8"
    # to every text/ type, and a Latin-1 file was declared UTF-8 (nosniff keeps a
    # browser from correcting it).
    sent |= {
        "Content-Type": media_type,
        "Accept-Ranges": "bytes",
        "Content-Length": str(stop - start),
    }
    if wanted is not None:
        sent["Content-Range"] = wanted.content_range
    code = status.HTTP_200_OK if wanted is None else status.HTTP_206_PARTIAL_CONTENT
    return code, sent


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
