"""Usage read back from the ledger: per tenant, per user, per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting.models import UsageEntry
from scaispeak.platform.auth.models import Role, Tenant
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.errors import BadRequest, NotFound


@dataclass(frozen=True)
class UsageRow:
    day: str
    user_id: str
    backend: str
    kind: str
    requests: int
    characters: int
    audio_seconds: float
    cost_micros: int


async def usage_report(
    session: AsyncSession,
    principal: Principal,
    *,
    start: date | None = None,
    end: date | None = None,
    user_id: str | None = None,
    tenant_id: str | None = None,
) -> list[UsageRow]:
    """Daily totals by user, backend and kind. Members only ever see their own usage;
    a superadmin may name any tenant (``tenant_id``), everyone else only their own."""
    if principal.role is Role.member:
        if user_id not in (None, principal.user_id):
            # As for keys: a colleague is not found. Their id was ignored, and the
            # member's own rows answered as if they were the colleague's (helper-98).
            raise NotFound(f"No user with id {user_id!r}.")
        user_id = principal.user_id
    tenant_id = tenant_id or principal.tenant_id
    if tenant_id != principal.tenant_id and (
        not principal.is_superadmin or await session.get(Tenant, tenant_id) is None
    ):
        # A mistyped id is not a tenant that never spoke: empty rows would say it was.
        raise NotFound(f"No tenant with id {tenant_id!r}.")
    if start and end and start > end:
        raise BadRequest("`start` is after `end`: no day is in that range.")
    day = cast(func.date(UsageEntry.charged_at), String)
    stmt = (
        select(
            day.label("day"),
            UsageEntry.user_id,
            UsageEntry.backend,
            UsageEntry.kind,
            func.count().label("requests"),
            func.sum(UsageEntry.characters).label("characters"),
            func.sum(UsageEntry.audio_seconds).label("audio_seconds"),
            func.sum(UsageEntry.cost_micros).label("cost_micros"),
        )
        .where(UsageEntry.tenant_id == tenant_id)
        .group_by(day, UsageEntry.user_id, UsageEntry.backend, UsageEntry.kind)
        .order_by(day, UsageEntry.user_id, UsageEntry.backend, UsageEntry.kind)
    )
    if user_id:
        stmt = stmt.where(UsageEntry.user_id == user_id)
    if start:
        stmt = stmt.where(func.date(UsageEntry.charged_at) >= start)
    if end:
        stmt = stmt.where(func.date(UsageEntry.charged_at) <= end)
    rows = (await session.execute(stmt)).all()
    return [
        UsageRow(
            day=str(r.day),
            user_id=r.user_id,
            backend=r.backend,
            kind=r.kind,
            requests=int(r.requests),
            characters=int(r.characters or 0),
            audio_seconds=float(r.audio_seconds or 0.0),
            cost_micros=int(r.cost_micros or 0),
        )
        for r in rows
    ]
