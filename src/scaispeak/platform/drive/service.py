"""Shares and their members. Files are in ``files.py``; access rules in ``access.py``."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.models import User
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import put_row
from scaispeak.platform.drive.access import ShareAccess, effective_role, open_share, visible_shares
from scaispeak.platform.drive.errors import OwnerMembershipFixed
from scaispeak.platform.drive.models import Share, ShareMember, ShareOwner, ShareRole
from scaispeak.platform.errors import Forbidden, NotFound


async def create_share(
    session: AsyncSession, principal: Principal, name: str, owner: ShareOwner
) -> ShareAccess:
    """A share owned by the caller, or (tenant admins only) by the caller's tenant."""
    if owner is ShareOwner.tenant and not principal.is_admin_of(principal.tenant_id):
        raise Forbidden("Only a tenant admin may create tenant-owned shares.")
    share = Share(
        tenant_id=principal.tenant_id,
        owner_kind=owner,
        owner_user_id=principal.user_id if owner is ShareOwner.user else None,
        name=name,
    )
    session.add(share)
    await session.flush()
    if owner is ShareOwner.user:
        session.add(ShareMember(share_id=share.id, user_id=principal.user_id, role=ShareRole.owner))
    await session.commit()
    return ShareAccess(share, ShareRole.owner)


async def list_shares(session: AsyncSession, principal: Principal) -> list[ShareAccess]:
    stmt = visible_shares(principal).order_by(Share.created_at, Share.id)
    rows = (await session.execute(stmt)).all()
    return [ShareAccess(share, effective_role(principal, share, role)) for share, role in rows]


async def get_share(session: AsyncSession, principal: Principal, share_id: str) -> ShareAccess:
    return await open_share(session, principal, share_id, ShareRole.read)


async def list_members(
    session: AsyncSession, principal: Principal, share_id: str
) -> list[ShareMember]:
    await open_share(session, principal, share_id, ShareRole.read)
    stmt = (
        select(ShareMember)
        .where(ShareMember.share_id == share_id)
        .order_by(ShareMember.created_at, ShareMember.user_id)
    )
    return list((await session.execute(stmt)).scalars())


async def set_member(
    session: AsyncSession, principal: Principal, share_id: str, user_id: str, role: ShareRole
) -> ShareMember:
    """Add a member or change their role (share owners and tenant admins only)."""
    access = await open_share(session, principal, share_id, ShareRole.owner)
    share = access.share
    user = await session.get(User, user_id)
    if user is None or user.tenant_id != share.tenant_id:
        raise NotFound(f"No user with id {user_id!r} in this tenant.")
    if user_id == share.owner_user_id and role is not ShareRole.owner:
        raise OwnerMembershipFixed("The user who owns the share stays its owner.")

    async def change(member: ShareMember) -> None:
        member.role = role

    return await put_row(
        session,
        lambda: session.get(ShareMember, (share_id, user_id)),
        lambda: ShareMember(share_id=share_id, user_id=user_id, role=role),
        change,
    )


async def remove_member(
    session: AsyncSession, principal: Principal, share_id: str, user_id: str
) -> None:
    access = await open_share(session, principal, share_id, ShareRole.owner)
    if user_id == access.share.owner_user_id:
        raise OwnerMembershipFixed("The user who owns the share cannot be removed from it.")
    result = await session.execute(
        delete(ShareMember).where(ShareMember.share_id == share_id, ShareMember.user_id == user_id)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"User {user_id!r} is not a member of this share.")
    await session.commit()


async def hand_over_shares_of(session: AsyncSession, user_id: str) -> None:
    """A deleted user's shares become their tenant's, whose admins decide what of them
    to keep (files in a share are often the tenant's work, and jobs may still save into
    them); the user's memberships end."""
    await session.execute(
        update(Share)
        .where(Share.owner_user_id == user_id)
        .values(owner_kind=ShareOwner.tenant, owner_user_id=None)
    )
    await session.execute(delete(ShareMember).where(ShareMember.user_id == user_id))
    await session.commit()
