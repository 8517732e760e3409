"""Tenant scoping, in one place.

Every query for a tenant-owned row goes through ``tenant_filter`` or ``get_scoped``.
A row of another tenant is indistinguishable from a missing one (404), so ids never
leak across tenants.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.errors import NotFound


class TenantOwned(Protocol):
    id: Any
    tenant_id: Any


T = TypeVar("T")


def tenant_filter(
    model: type[Any], principal: Principal, *, shared: bool = False
) -> ColumnElement[bool]:
    """The WHERE clause that limits ``model`` to the caller's tenant.

    ``shared=True`` also admits rows with no tenant (platform-wide rows such as
    global voices).
    """
    column: InstrumentedAttribute[Any] = model.tenant_id
    own = column == principal.tenant_id
    return or_(own, column.is_(None)) if shared else own


async def get_scoped(
    session: AsyncSession,
    model: type[T],
    object_id: str,
    principal: Principal,
    *,
    shared: bool = False,
) -> T:
    """Load one row the caller's tenant may see, or raise NotFound."""
    stmt = select(model).where(
        model.id == object_id,  # type: ignore[attr-defined]
        tenant_filter(model, principal, shared=shared),
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"No {model.__name__.lower()} with id {object_id!r}.")
    return row
