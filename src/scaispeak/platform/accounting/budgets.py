"""Setting a tenant's budget and reading where it stands."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting.models import Budget, BudgetPeriod, SpendCounter
from scaispeak.platform.accounting.service import TENANT_ROW, period_key
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.auth.service import get_tenant_for_admin
from scaispeak.platform.db import utcnow
from scaispeak.platform.errors import Forbidden, NotFound


@dataclass(frozen=True)
class BudgetStatus:
    tenant_id: str
    period: BudgetPeriod
    period_key: str
    limit_micros: int
    per_user_limit_micros: int | None
    spent_micros: int
    reserved_micros: int


async def set_budget(
    session: AsyncSession,
    actor: Principal,
    tenant_id: str,
    period: BudgetPeriod,
    limit_micros: int,
    per_user_limit_micros: int | None,
) -> BudgetStatus:
    """Only a superadmin sets a tenant's budget: a tenant must not raise its own."""
    await get_tenant_for_admin(session, actor, tenant_id)
    if not actor.is_superadmin:
        raise Forbidden("Only a superadmin may set a tenant's budget.")
    budget = await session.get(Budget, tenant_id) or Budget(tenant_id=tenant_id)
    budget.period = period
    budget.limit_micros = limit_micros
    budget.per_user_limit_micros = per_user_limit_micros
    session.add(budget)
    await session.commit()
    return await budget_status(session, actor, tenant_id)


async def budget_status(session: AsyncSession, actor: Principal, tenant_id: str) -> BudgetStatus:
    if not (actor.is_superadmin or actor.tenant_id == tenant_id):
        raise NotFound(f"No tenant with id {tenant_id!r}.")
    budget = await session.get(Budget, tenant_id)
    if budget is None:
        raise NotFound("This tenant has no budget: its spending is not limited.")
    key = period_key(budget.period, utcnow())
    counter = await session.execute(
        select(SpendCounter).where(
            SpendCounter.tenant_id == tenant_id,
            SpendCounter.user_id == TENANT_ROW,
            SpendCounter.period_key == key,
        )
    )
    row = counter.scalar_one_or_none()
    return BudgetStatus(
        tenant_id=tenant_id,
        period=budget.period,
        period_key=key,
        limit_micros=budget.limit_micros,
        per_user_limit_micros=budget.per_user_limit_micros,
        spent_micros=row.spent_micros if row else 0,
        reserved_micros=row.reserved_micros if row else 0,
    )
