"""Setting a tenant's budget and reading where it stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting.counters import (
    TENANT_ROW,
    ensure_counter,
    period_key,
    period_start,
)
from scaispeak.platform.accounting.models import Budget, BudgetPeriod, SpendCounter, UsageEntry
from scaispeak.platform.auth.models import Tenant
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.auth.service import get_tenant_for_admin
from scaispeak.platform.db import put_row, utcnow
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
    if not actor.is_superadmin:
        if actor.tenant_id != tenant_id:
            raise NotFound(f"No tenant with id {tenant_id!r}.")  # ids do not leak
        # Said to a member too: "only a tenant admin" sent them to an admin, refused as well.
        raise Forbidden("Only a superadmin may set a tenant's budget.")
    await get_tenant_for_admin(session, actor, tenant_id)

    async def change(budget: Budget) -> None:
        budget.period = period
        budget.limit_micros = limit_micros
        budget.per_user_limit_micros = per_user_limit_micros
        session.add(budget)
        await _count_what_the_period_spent(session, budget)

    await put_row(
        session, lambda: session.get(Budget, tenant_id), lambda: Budget(tenant_id=tenant_id), change
    )
    return await budget_status(session, actor, tenant_id)


async def _count_what_the_period_spent(session: AsyncSession, budget: Budget) -> None:
    """Set the current period's counters to what the ledger says was spent in it.

    Counters only move while a budget of that period is in force: a tenant's spending
    before its first budget, under a month budget when it goes back to a day one, or a
    user's before a per-user cap, is in the ledger but not on the counter the new
    budget reads, which would otherwise start from nothing. The budget row is written
    first (its UPDATE flushes before the counters are touched), and a settlement reads
    it under a share lock (counters.py), so a settlement either waits and adds to the
    new rows, or is already in the ledger's sum.
    """
    now = utcnow()
    key = period_key(budget.period, now)
    since = period_start(budget.period, now)
    users = [TENANT_ROW]
    if budget.per_user_limit_micros is not None:
        users += await _users_with_spending(session, budget.tenant_id, key, since)
    for user_id in users:
        await ensure_counter(session, budget.tenant_id, user_id, key)
        here = (
            SpendCounter.tenant_id == budget.tenant_id,
            SpendCounter.user_id == user_id,
            SpendCounter.period_key == key,
        )
        await session.execute(  # takes the row's lock before the sum is read
            update(SpendCounter).where(*here).values(spent_micros=SpendCounter.spent_micros)
        )
        spent = await _ledger_spent(session, budget.tenant_id, user_id, since)
        await session.execute(update(SpendCounter).where(*here).values(spent_micros=spent))


async def _users_with_spending(
    session: AsyncSession, tenant_id: str, key: str, since: datetime | None
) -> list[str]:
    in_ledger = select(UsageEntry.user_id).where(UsageEntry.tenant_id == tenant_id)
    if since is not None:
        in_ledger = in_ledger.where(UsageEntry.charged_at >= since)
    counted = select(SpendCounter.user_id).where(
        SpendCounter.tenant_id == tenant_id,
        SpendCounter.period_key == key,
        SpendCounter.user_id != TENANT_ROW,
    )
    rows = await session.execute(in_ledger.union(counted))
    return sorted(str(user_id) for user_id in rows.scalars())


async def _ledger_spent(
    session: AsyncSession, tenant_id: str, user_id: str, since: datetime | None
) -> int:
    total = select(func.coalesce(func.sum(UsageEntry.cost_micros), 0)).where(
        UsageEntry.tenant_id == tenant_id
    )
    if user_id != TENANT_ROW:
        total = total.where(UsageEntry.user_id == user_id)
    if since is not None:
        total = total.where(UsageEntry.charged_at >= since)
    return int(await session.scalar(total) or 0)


class NoBudget(NotFound):
    """Told apart from a tenant that does not exist: this one is simply not limited."""

    code = "no_budget"


async def budget_status(session: AsyncSession, actor: Principal, tenant_id: str) -> BudgetStatus:
    if not (actor.is_superadmin or actor.tenant_id == tenant_id):
        raise NotFound(f"No tenant with id {tenant_id!r}.")
    budget = await session.get(Budget, tenant_id)
    if budget is None:
        if actor.is_superadmin and await session.get(Tenant, tenant_id) is None:
            raise NotFound(f"No tenant with id {tenant_id!r}.")
        raise NoBudget("This tenant has no budget: its spending is not limited.")
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
