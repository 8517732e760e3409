"""HTTP routes of the drive under /v1/drive (thin: parse, call the service, shape)."""

from __future__ import annotations

import mimetypes
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.convertors import PathConvertor, register_url_convertor

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.blob_response import (
    SAFE_UPLOAD_HEADERS,
    BlobAnswer,
    blob_head,
    blob_response,
    copy_is_current,
    range_is_stale,
)
from scaispeak.platform.deps import ApiKeyCaller, Caller, Session, platform_context
from scaispeak.platform.drive import files, service
from scaispeak.platform.drive.errors import FileBusy, UploadTooLarge
from scaispeak.platform.drive.models import DriveFile
from scaispeak.platform.drive.paths import file_name
from scaispeak.platform.drive.schemas import (
    FileOut,
    FilePageOut,
    MemberIn,
    MemberOut,
    ShareIn,
    ShareOut,
)
from scaispeak.platform.ranges import ByteRange, parse_range
from scaispeak.platform.storage.base import BlobNotFound

router = APIRouter(prefix="/v1/drive", tags=["platform: drive"])


class _AnyPath(PathConvertor):
    """Starlette's ``path`` is ``.*``, which stops at a line feed, and a route's ``$``
    matches before a final one: ``files/x%0A`` wrote, replaced and deleted ``x``, and
    ``a%0Ab`` was the router's 404 (helper-86). Every character reaches the path's
    check, which refuses control characters (invalid_path)."""

    regex = r"[\s\S]*"


register_url_convertor("anypath", _AnyPath())
_FILE = "/shares/{share_id}/files/{path:anypath}"
_READ_ATTEMPTS = 3


@router.post("/shares", status_code=status.HTTP_201_CREATED)
async def create_share(session: Session, caller: Caller, body: ShareIn) -> ShareOut:
    return ShareOut.of(await service.create_share(session, caller, body.name, body.owner))


@router.get("/shares")
async def list_shares(session: Session, caller: Caller) -> list[ShareOut]:
    return [ShareOut.of(a) for a in await service.list_shares(session, caller)]


@router.get("/shares/{share_id}")
async def get_share(session: Session, caller: Caller, share_id: str) -> ShareOut:
    return ShareOut.of(await service.get_share(session, caller, share_id))


@router.get("/shares/{share_id}/members")
async def list_members(session: Session, caller: Caller, share_id: str) -> list[MemberOut]:
    members = await service.list_members(session, caller, share_id)
    return [MemberOut.model_validate(m) for m in members]


# Membership is administration: with an API key only. A browser token (minutes, and
# seen in URLs) granting a role would outlast itself, and its key's revocation.
@router.put("/shares/{share_id}/members/{user_id}")
async def set_member(
    session: Session, caller: ApiKeyCaller, share_id: str, user_id: str, body: MemberIn
) -> MemberOut:
    member = await service.set_member(session, caller, share_id, user_id, body.role)
    return MemberOut.model_validate(member)


@router.delete(
    "/shares/{share_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
async def remove_member(
    session: Session, caller: ApiKeyCaller, share_id: str, user_id: str
) -> None:
    await service.remove_member(session, caller, share_id, user_id)


@router.get("/shares/{share_id}/files")
async def list_files(
    request: Request,
    session: Session,
    caller: Caller,
    share_id: str,
    prefix: str = "",
    limit: Annotated[int, Query(ge=1)] = 50,
    cursor: str | None = None,
) -> FilePageOut:
    limit = min(limit, platform_context(request).settings.limits.page_size_max)
    page = await files.list_files(
        session, caller, share_id, prefix=prefix, limit=limit, cursor=cursor
    )
    return FilePageOut(items=[FileOut.of(f) for f in page.items], next_cursor=page.next_cursor)


# The body is the file's raw bytes, which FastAPI cannot describe from the signature:
# without this the OpenAPI document had no request body, and generated clients sent none.
_RAW_FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The file's bytes; Content-Type is stored as sent.",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put(
    _FILE,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": FileOut}},
    openapi_extra=_RAW_FILE_BODY,
)
async def upload_file(
    request: Request,
    response: Response,
    session: Session,
    caller: Caller,
    share_id: str,
    path: str,
    overwrite: Annotated[bool, Query(description="Replace an existing file.")] = True,
) -> FileOut:
    """Store the raw request body at ``path`` (201 created, 200 replaced).

    ``If-None-Match: *`` (or ``overwrite=false``) refuses to replace a file (409).
    """
    ctx = platform_context(request)
    limit = ctx.settings.limits.drive_upload_max_bytes
    overwrite = overwrite and request.headers.get("if-none-match", "").strip() != "*"
    await files.check_writable(session, caller, share_id, path, overwrite)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(f"Uploads are limited to {limit} bytes.", limit=limit)
    content_type = _content_type(request.headers.get("content-type"), path)
    ref = await files.write_file(
        session,
        ctx.storage,
        caller,
        share_id,
        path,
        request.stream(),
        content_type,
        overwrite=overwrite,
        max_bytes=limit,
        quota_bytes=ctx.settings.limits.drive_tenant_max_bytes,
    )
    response.status_code = status.HTTP_200_OK if ref.replaced else status.HTTP_201_CREATED
    return FileOut.of(await files.get_file(session, caller, share_id, ref.path))


@router.get(_FILE, response_class=StreamingResponse, responses={206: {}, 304: {}, 416: {}})
async def download_file(
    request: Request, session: Session, caller: Caller, share_id: str, path: str
) -> Response:
    """The file's bytes; honours a single ``Range`` (206), ``If-Range`` and
    ``If-None-Match`` (304: the client's copy is current)."""
    return await _answer_for_file(request, session, caller, share_id, path, blob_response)


@router.head(_FILE, response_class=Response, responses={206: {}, 304: {}, 416: {}})
async def file_head(
    request: Request, session: Session, caller: Caller, share_id: str, path: str
) -> Response:
    """The GET's status and headers, ranges included, without the bytes."""
    return await _answer_for_file(request, session, caller, share_id, path, blob_head)


async def _answer_for_file(
    request: Request,
    session: AsyncSession,
    caller: Principal,
    share_id: str,
    path: str,
    answer: BlobAnswer,
) -> Response:
    storage = platform_context(request).storage
    for _ in range(_READ_ATTEMPTS):
        row = await files.get_file(session, caller, share_id, path)  # 404 once deleted
        await session.close()  # nothing else needs the database while the bytes flow
        if _client_copy_is_current(request, row):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=_file_headers(row))
        try:
            return await answer(
                storage,
                row.blob_key,
                row.size,
                _wanted_range(request, row),
                media_type=row.content_type,
                headers=_file_headers(row),
            )
        except BlobNotFound:
            # Overwritten or deleted between reading the row and opening its blob (a
            # displaced blob is deleted at once): read the row again. Once open, a blob
            # streams to the end whatever happens to it.
            continue
    raise FileBusy(f"{path!r} is being rewritten too often to be read; retry.")


@router.delete(_FILE, status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_file(
    request: Request, session: Session, caller: ApiKeyCaller, share_id: str, path: str
) -> None:
    await files.delete_file(session, platform_context(request).storage, caller, share_id, path)


def _content_type(header: str | None, path: str) -> str:
    if header:
        return header  # validated by write_file
    return mimetypes.guess_type(file_name(path))[0] or "application/octet-stream"


def _client_copy_is_current(request: Request, row: DriveFile) -> bool:
    return copy_is_current(request.headers.get("if-none-match"), f'"{row.sha256}"')


def _wanted_range(request: Request, row: DriveFile) -> ByteRange | None:
    if range_is_stale(request.headers.get("if-range"), f'"{row.sha256}"'):
        return None  # the client's copy is stale: send the whole current file
    return parse_range(request.headers.get("range"), row.size)


_SHOWN_INLINE = ("audio/", "video/", "image/png", "image/jpeg", "image/gif", "image/webp")
_SHOWN_INLINE_EXACT = {"text/plain", "application/octet-stream"}


def _file_headers(row: DriveFile) -> dict[str, str]:
    """Download headers that keep a stored file from acting on the API's origin.

    Any member who may write to a share picks the content type of what they store, so
    an HTML or SVG file opened with a ``?token=`` URL would run its script on this
    origin and could read that token. Only types a browser shows without running
    anything are sent ``inline``; everything else is an ``attachment``. Whatever the
    type, ``nosniff`` stops a browser guessing its way to HTML, and the sandbox CSP
    keeps script off this origin even where a browser renders the file anyway.
    """
    media = row.content_type.split(";", 1)[0].strip().lower()
    shown = media in _SHOWN_INLINE_EXACT or media.startswith(_SHOWN_INLINE)
    disposition = "inline" if shown else "attachment"
    return {
        "Accept-Ranges": "bytes",
        "ETag": f'"{row.sha256}"',
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(file_name(row.path))}",
        **SAFE_UPLOAD_HEADERS,
    }
