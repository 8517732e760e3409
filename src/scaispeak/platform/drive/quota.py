"""A tenant's drive quota: what all of its files may hold together.

Every share of every tenant lives on one blob store, so without a quota one member
could fill the disk and fail everyone's uploads, job audio and database writes. A write
is checked three times: before its bytes are read (a full drive refuses at once), as
they stream (an upload stops when it passes the room left, not after a gigabyte), and
as its row lands (the bytes it replaces are freed). The last check is the one that
counts, and it holds the tenant (``hold_tenant``) until the write commits: without
that, five uploads landing together on PostgreSQL each saw the same total and stored
1,000 bytes against a 300-byte quota (helper-91). Uploads still streaming are not
counted, so the blob store may briefly hold more, until they are refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.drive.errors import DriveQuotaExceeded
from scaispeak.platform.drive.models import DriveFile, Share


async def hold_tenant(session: AsyncSession, tenant_id: str) -> None:
    """Make this transaction the tenant's only drive writer from here until it ends, so
    the total it reads next is still the total when its row lands. Call it after the
    transaction's first write: on SQLite, that write took the one write lock there is."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # Keyed by tenant: other tenants' writers never wait. Under READ COMMITTED the
        # total is read after the lock is granted, so it counts the holder's file.
        await session.execute(select(func.pg_advisory_xact_lock(_lock_key(tenant_id))))


def _lock_key(tenant_id: str) -> int:
    digest = hashlib.sha256(f"drive_quota:{tenant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True)
class Room:
    """What one write may store: the tenant's bytes other than the file it replaces,
    and that file's. A write no larger than the file it replaces grows nothing and is
    let through, so a tenant over a lowered quota can still replace its files."""

    others: int
    replaced: int
    quota: int | None

    def check(self, size: int) -> None:
        if self.quota is None or size <= self.replaced or self.others + size <= self.quota:
            return
        used = self.others + self.replaced
        raise DriveQuotaExceeded(
            f"The tenant's drive files hold {used} bytes of its {self.quota}-byte quota; "
            f"this file needs {size}{' in its place' if self.replaced else ''}. Delete "
            "files to make room.",
            limit=self.quota,
            used=used,
        )


UNLIMITED = Room(0, 0, None)


async def room_for(
    session: AsyncSession, tenant_id: str, replacing: tuple[str, str] | None, quota: int | None
) -> Room:
    """The room a write has (``replacing``: the share and path it would replace)."""
    if quota is None:
        return UNLIMITED
    share_id, path = replacing or ("", "")
    is_replaced = and_(DriveFile.share_id == share_id, DriveFile.path == path)
    sizes = (
        select(
            func.coalesce(func.sum(DriveFile.size), 0),
            func.coalesce(func.sum(case((is_replaced, DriveFile.size), else_=0)), 0),
        )
        .join(Share, Share.id == DriveFile.share_id)
        .where(Share.tenant_id == tenant_id)
    )
    total, replaced = (await session.execute(sizes)).one()
    return Room(int(total) - int(replaced), int(replaced), quota)


async def within_room(chunks: AsyncIterable[bytes], room: Room) -> AsyncIterator[bytes]:
    """``chunks``, refused once they pass the room the write has."""
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        room.check(size)
        yield chunk
