"""Who may do what in a share: the caller's effective role, resolved in one query.

Tenant admins (and superadmins, within their own tenant) act as owners of every share
in their tenant; everyone else needs a membership row. A share the caller may not see
at all (another tenant's, or one they are no member of) is a 404, never a 403, so share
ids do not leak. Within a visible share, too little role is a 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.drive.errors import UnknownShare
from scaispeak.platform.drive.models import Share, ShareMember, ShareRole
from scaispeak.platform.errors import Forbidden
from scaispeak.platform.scoping import tenant_filter


@dataclass(frozen=True)
class ShareAccess:
    share: Share
    role: ShareRole


def visible_shares(principal: Principal) -> Select[Share, ShareRole]:
    """Shares of the caller's tenant with the caller's membership role.

    The role is None (outer join) where the caller is no member: tenant admins only.
    """
    stmt = (
        select(Share, ShareMember.role)
        .outerjoin(
            ShareMember,
            and_(ShareMember.share_id == Share.id, ShareMember.user_id == principal.user_id),
        )
        .where(tenant_filter(Share, principal))
    )
    if not principal.is_admin_of(principal.tenant_id):
        stmt = stmt.where(ShareMember.user_id.is_not(None))
    return stmt


def effective_role(principal: Principal, share: Share, member_role: ShareRole | None) -> ShareRole:
    if principal.is_admin_of(share.tenant_id):
        return ShareRole.owner
    assert member_role is not None  # visible_shares admits only members otherwise
    return member_role


async def open_share(
    session: AsyncSession, principal: Principal, share_id: str, needed: ShareRole
) -> ShareAccess:
    """The share and the caller's role, if that role allows ``needed``."""
    row = (await session.execute(visible_shares(principal).where(Share.id == share_id))).first()
    if row is None:
        raise UnknownShare(f"No share with id {share_id!r}.")
    share, member_role = row
    role = effective_role(principal, share, member_role)
    if not role.allows(needed):
        raise Forbidden(
            f"This needs the {needed.value!r} role on the share; you have {role.value!r}."
        )
    return ShareAccess(share, role)
