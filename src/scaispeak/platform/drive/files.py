"""Files in shares: list, read, delete, and the all-or-nothing ``write_file``.

``write_file`` is also how other modules store results in a share (the speech module's
``save_to``): ``check_writable`` first, before any expensive work, then ``write_file``,
or ``staged_write`` where the file must land together with the writer's own changes.
A write streams the bytes to a fresh blob key that no row points to yet, then commits
the row pointing at it; only after the commit is the previous blob deleted. A failure
at any step deletes the new blob, so no reader ever sees a partial file.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform import cursors
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.auth.tokens import BrowserTokenNotAllowed
from scaispeak.platform.db import new_id, utcnow
from scaispeak.platform.drive import quota
from scaispeak.platform.drive.access import open_share
from scaispeak.platform.drive.errors import (
    FileExists,
    InvalidContentType,
    UnknownFile,
    UploadTooLarge,
)
from scaispeak.platform.drive.models import DriveFile, ShareRole
from scaispeak.platform.drive.paths import normalize_path, normalize_prefix
from scaispeak.platform.storage import BlobStore

_log = logging.getLogger(__name__)
_WRITE_ATTEMPTS = 5
_MEDIA_TYPE = re.compile(r"^[\w!#$&^.+-]+/[\w!#$&^.+-]+(\s*;[^,\r\n]*)?$")
"""One media type and its parameters: a browser splits a Content-Type at commas and
takes the last type, so ``audio/x;, text/html``, served inline for its first, renders
as HTML."""


@dataclass(frozen=True)
class FileRef:
    """What a writer gets back: enough to cite, verify and fetch the file."""

    share_id: str
    path: str
    size: int
    sha256: str
    content_type: str
    url: str
    """The download endpoint, relative to the API root."""
    replaced: bool = False
    """True when an existing file at the path was overwritten."""


@dataclass(frozen=True)
class FilePage:
    items: list[DriveFile]
    next_cursor: str | None


def download_url(share_id: str, path: str) -> str:
    return f"/v1/drive/shares/{share_id}/files/{quote(path)}"


async def list_files(
    session: AsyncSession,
    principal: Principal,
    share_id: str,
    *,
    prefix: str = "",
    limit: int = 50,
    cursor: str | None = None,
) -> FilePage:
    """Files in path order; ``prefix`` matches exactly (case-sensitive, no wildcards)."""
    await open_share(session, principal, share_id, ShareRole.read)
    prefix = normalize_prefix(prefix)
    stmt = select(DriveFile).where(DriveFile.share_id == share_id)
    if prefix:
        # substr rather than LIKE: LIKE is case-insensitive on SQLite and has wildcards.
        stmt = stmt.where(func.substr(DriveFile.path, 1, len(prefix)) == prefix)
    if cursor:
        stmt = stmt.where(DriveFile.path > _decode_cursor(cursor))
    rows = list((await session.execute(stmt.order_by(DriveFile.path).limit(limit + 1))).scalars())
    more = len(rows) > limit
    items = rows[:limit]
    return FilePage(items, _encode_cursor(items[-1].path) if more and items else None)


async def get_file(
    session: AsyncSession, principal: Principal, share_id: str, path: str
) -> DriveFile:
    await open_share(session, principal, share_id, ShareRole.read)
    return await _load(session, share_id, normalize_path(path))


async def delete_file(
    session: AsyncSession, storage: BlobStore, principal: Principal, share_id: str, path: str
) -> None:
    """Remove the row first (the file is gone for readers at once), then its bytes.

    The delete is conditional on the blob key read: an overwrite that lands between
    the read and the delete has already deleted that blob and put another in its
    place, which must be the one this deletes (else it would be left behind, orphaned).
    """
    await open_share(session, principal, share_id, ShareRole.write)
    normal = normalize_path(path)
    for _ in range(_WRITE_ATTEMPTS):
        row = await _load(session, share_id, normal)  # 404 once someone else deleted it
        blob_key = row.blob_key
        deleted = await session.execute(
            delete(DriveFile)
            .where(DriveFile.id == row.id, DriveFile.blob_key == blob_key)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        if deleted.rowcount == 1:  # type: ignore[attr-defined]
            await _discard_blob(storage, blob_key)
            return
        session.expunge(row)  # overwritten meanwhile: read the row as it is now
    raise FileExists(f"{normal!r} is being written concurrently; retry.", path=normal)


async def check_writable(
    session: AsyncSession, principal: Principal, share_id: str, path: str, overwrite: bool
) -> str:
    """Refuse a write before any work is done; returns the normalised path.

    404 unknown or foreign share (or not a member), 403 without the write role,
    422 invalid path, 409 when the file exists and ``overwrite`` is false, 403 when it
    exists and the caller holds a browser token.
    """
    await open_share(session, principal, share_id, ShareRole.write)
    normal = normalize_path(path)
    if not await _exists(session, share_id, normal):
        return normalize_path(path, writing=True)  # a new name: the stricter rules
    if not overwrite:
        raise FileExists(f"{normal!r} already exists in this share.", path=normal)
    if principal.via_browser_token:  # a leaked token must not wipe a file by writing over it
        raise BrowserTokenNotAllowed(
            "Replacing a file needs an API key; a browser token only creates files."
        )
    return normal


async def write_file(
    session: AsyncSession,
    storage: BlobStore,
    principal: Principal,
    share_id: str,
    path: str,
    data: bytes | AsyncIterable[bytes],
    content_type: str,
    *,
    overwrite: bool,
    max_bytes: int | None = None,
    quota_bytes: int | None = None,
) -> FileRef:
    """Store ``data`` at ``path``: the whole file becomes visible at once, or nothing.

    Commits ``session`` (the upload runs outside any transaction, so a long upload holds
    no database locks or snapshots).
    """
    staged = staged_write(
        session,
        storage,
        principal,
        share_id,
        path,
        data,
        content_type,
        overwrite=overwrite,
        max_bytes=max_bytes,
        quota_bytes=quota_bytes,
    )
    async with staged as ref:
        await session.commit()
    return ref


@asynccontextmanager
async def staged_write(
    session: AsyncSession,
    storage: BlobStore,
    principal: Principal,
    share_id: str,
    path: str,
    data: bytes | AsyncIterable[bytes],
    content_type: str,
    *,
    overwrite: bool,
    max_bytes: int | None = None,
    quota_bytes: int | None = None,
) -> AsyncIterator[FileRef]:
    """``write_file`` whose row change lands with what the block commits, or not at all.

    The bytes are uploaded and the path is pointed at them in an open transaction;
    the block adds its own changes and commits them together (a job marks itself
    succeeded and is charged), so no other transaction can see the file without them.
    If the block raises, the row change is rolled back and the new blob deleted. The
    file's row stays locked until the block commits: keep the block short.
    ``quota_bytes`` bounds the tenant's drive (quota.py).
    """
    check_media_type(content_type)
    normal = await check_writable(session, principal, share_id, path, overwrite)
    overwrite = overwrite and not principal.via_browser_token  # one made meanwhile: 409
    replacing = (share_id, normal) if overwrite else None
    room = await quota.room_for(session, principal.tenant_id, replacing, quota_bytes)
    room.check(len(data) if isinstance(data, bytes) else 1)  # a stream: its first byte
    await session.commit()
    blob_key = f"drive/{share_id}/{new_id('blob')}"
    digest = hashlib.sha256()
    replaced_key: str | None = None
    try:
        if isinstance(data, bytes):
            _check_size(len(data), max_bytes)
            digest.update(data)
            stat = await storage.put_bytes(blob_key, data)
        else:
            chunks = quota.within_room(_measured(data, digest, max_bytes), room)
            stat = await storage.put_stream(blob_key, chunks)
        sha256 = digest.hexdigest()
        values = {
            "blob_key": blob_key,
            "size": stat.size,
            "sha256": sha256,
            "content_type": content_type,
        }
        replaced_key = await _point_row(
            session, principal, share_id, normal, values, overwrite, quota_bytes
        )
        url = download_url(share_id, normal)
        yield FileRef(
            share_id, normal, stat.size, sha256, content_type, url, replaced_key is not None
        )
        await session.commit()  # a no-op where the block committed, as it should
    except BaseException:
        landed = await _discard_unless_committed(session, storage, share_id, normal, blob_key)
        if landed and replaced_key is not None:
            # The commit landed before the failure (a cancel as it returned): the blob
            # it displaced is no one's now, and no sweep covers the drive's blobs.
            await _discard_blob(storage, replaced_key)
        raise
    if replaced_key is not None:
        await _discard_blob(storage, replaced_key)


def check_media_type(content_type: str) -> None:
    if len(content_type) > 255 or not _MEDIA_TYPE.match(content_type):
        shown = content_type[:80]
        raise InvalidContentType(f"{shown!r} is not a media type such as 'audio/wav'.")


async def _point_row(
    session: AsyncSession,
    principal: Principal,
    share_id: str,
    path: str,
    values: dict[str, Any],
    overwrite: bool,
    quota_bytes: int | None,
) -> str | None:
    """Point the path at the new blob (``values``: its key, size, digest and type) and
    leave the transaction open for the caller to commit; returns the blob key it
    replaced, if any.

    Of two concurrent overwrites, each must learn exactly which blob it displaced, or a
    blob leaks: writers are serialised by a lock taken before the read, the update is
    also conditional on the blob key read, and a lost race (or a concurrent first
    insert, which no lock can cover) is read again and retried. The writer's role is
    checked again here: an upload (or a job's copy) takes minutes, and a member removed
    from the share meanwhile must not land a file, nor replace a colleague's.
    """
    for _ in range(_WRITE_ATTEMPTS):
        here = (DriveFile.share_id == share_id, DriveFile.path == path)
        # A no-op update first takes the write lock (SQLite) or the row lock (PostgreSQL),
        # so the read below sees the latest blob key and no other writer can change it.
        await session.execute(
            update(DriveFile)
            .where(*here)
            .values(blob_key=DriveFile.blob_key)
            .execution_options(synchronize_session=False)
        )
        await open_share(session, principal, share_id, ShareRole.write)
        stmt = select(DriveFile.id, DriveFile.blob_key).where(*here)
        current = (await session.execute(stmt)).first()
        if current is not None and not overwrite:
            raise FileExists(f"{path!r} was created while this write ran.", path=path)
        if quota_bytes is not None:  # again, the tenant held: other writes landed meanwhile
            await quota.hold_tenant(session, principal.tenant_id)
            room = await quota.room_for(session, principal.tenant_id, (share_id, path), quota_bytes)
            room.check(values["size"])
        if current is None:
            session.add(DriveFile(share_id=share_id, path=path, **values))
        else:
            result = await session.execute(
                update(DriveFile)
                .where(DriveFile.id == current.id, DriveFile.blob_key == current.blob_key)
                .values(**values, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]  # lost a race: read again
                await session.rollback()
                continue
        try:
            # Nothing else is in this transaction yet, so a retry's rollback loses nothing.
            await session.flush()
        except IntegrityError:  # another writer created the path first; read again
            await session.rollback()
            continue
        return None if current is None else str(current.blob_key)
    raise FileExists(f"{path!r} is being written concurrently; retry.", path=path)


async def _measured(
    chunks: AsyncIterable[bytes], digest: hashlib._Hash, max_bytes: int | None
) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        _check_size(size, max_bytes)
        digest.update(chunk)
        yield chunk


def _check_size(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise UploadTooLarge(f"Uploads are limited to {max_bytes} bytes.", limit=max_bytes)


async def _discard_unless_committed(
    session: AsyncSession, storage: BlobStore, share_id: str, path: str, blob_key: str
) -> bool:
    """After a failed write: roll back, and delete the new blob unless a commit already
    pointed the path at it (a cancel that lands while the commit is under way). Returns
    whether it had (False where that cannot be told)."""
    committed = False
    with anyio.CancelScope(shield=True):
        await session.rollback()
        try:
            stmt = select(DriveFile.blob_key).where(
                DriveFile.share_id == share_id, DriveFile.path == path
            )
            committed = (await session.execute(stmt)).scalar_one_or_none() == blob_key
            await session.commit()
        except Exception:  # cannot tell: keep the blob, as an orphan beats a broken file
            _log.warning("could not check whether %s was committed", blob_key, exc_info=True)
            return False
        if not committed:
            await _discard_blob(storage, blob_key)
    return committed


async def _discard_blob(storage: BlobStore, key: str) -> None:
    # Shielded: cleanup must finish even when the request that wrote the blob is cancelled.
    with anyio.CancelScope(shield=True):
        try:
            await storage.delete(key)
        except Exception:  # an orphaned blob wastes space but breaks nothing; keep going
            _log.warning("could not delete blob %s", key, exc_info=True)


async def _load(session: AsyncSession, share_id: str, path: str) -> DriveFile:
    stmt = select(DriveFile).where(DriveFile.share_id == share_id, DriveFile.path == path)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise UnknownFile(f"No file {path!r} in this share.")
    return row


async def _exists(session: AsyncSession, share_id: str, path: str) -> bool:
    stmt = select(DriveFile.id).where(DriveFile.share_id == share_id, DriveFile.path == path)
    return (await session.execute(stmt)).first() is not None


def _encode_cursor(path: str) -> str:
    return cursors.encode([path])


def _decode_cursor(cursor: str) -> str:
    match cursors.decode(cursor):
        case [str(path)]:
            return path
        case _:
            raise cursors.refused()
