"""A tenant's drive quota: what all of its files may hold together.

Every share of every tenant lives on one blob store, so without a quota one member
could fill the disk and fail everyone's uploads, job audio and database writes. A write
is checked three times: before its bytes are read (a full drive refuses at once), as
they stream (an upload stops when it passes the room left, not after a gigabyte), and
as its row lands (the bytes it replaces are freed). Writes to different paths that land
at the same moment can each pass the last check, so a tenant may overshoot by what its
concurrent writes hold; the next write is then refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from sqlalchemy import and_, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.drive.errors import DriveQuotaExceeded
from scaispeak.platform.drive.models import DriveFile, Share


async def bytes_used(
    session: AsyncSession, tenant_id: str, replacing: tuple[str, str] | None = None
) -> int:
    """The tenant's drive bytes, less those of the file a write would replace
    (``replacing``: its share and path)."""
    stmt = (
        select(func.coalesce(func.sum(DriveFile.size), 0))
        .join(Share, Share.id == DriveFile.share_id)
        .where(Share.tenant_id == tenant_id)
    )
    if replacing is not None:
        share_id, path = replacing
        stmt = stmt.where(not_(and_(DriveFile.share_id == share_id, DriveFile.path == path)))
    return int(await session.scalar(stmt) or 0)


def check_room(used: int, adding: int, quota: int | None) -> None:
    if quota is not None and used + adding > quota:
        raise DriveQuotaExceeded(
            f"The tenant's drive files hold {used} bytes of its {quota}-byte quota; this "
            f"file needs {adding}. Delete files to make room.",
            limit=quota,
            used=used,
        )


async def within_room(
    chunks: AsyncIterable[bytes], used: int, quota: int | None
) -> AsyncIterator[bytes]:
    """``chunks``, refused once they pass the room the tenant has left."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        check_room(used, size, quota)
        yield chunk
