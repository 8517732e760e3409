"""HTTP routes for budgets and usage (thin)."""

from __future__ import annotations

from fastapi import APIRouter

from scaispeak.platform.accounting import budgets, reports
from scaispeak.platform.accounting.schemas import (
    BudgetIn,
    BudgetOut,
    CalendarDay,
    UsageOut,
    UsageRowOut,
)
from scaispeak.platform.deps import ApiKeyCaller, Caller, Session

router = APIRouter(prefix="/v1", tags=["platform: accounting"])


@router.put("/tenants/{tenant_id}/budget")
async def set_budget(
    session: Session, caller: ApiKeyCaller, tenant_id: str, body: BudgetIn
) -> BudgetOut:
    status = await budgets.set_budget(
        session, caller, tenant_id, body.period, body.limit_micros, body.per_user_limit_micros
    )
    return BudgetOut.model_validate(status)


@router.get("/tenants/{tenant_id}/budget")
async def get_budget(session: Session, caller: ApiKeyCaller, tenant_id: str) -> BudgetOut:
    return BudgetOut.model_validate(await budgets.budget_status(session, caller, tenant_id))


@router.get("/usage")
async def usage(
    session: Session,
    caller: Caller,
    start: CalendarDay | None = None,
    end: CalendarDay | None = None,
    user_id: str | None = None,
    tenant_id: str | None = None,
) -> UsageOut:
    """Daily usage of the caller's tenant (admins), of the caller (members), or of the
    tenant a superadmin names."""
    rows = await reports.usage_report(
        session, caller, start=start, end=end, user_id=user_id, tenant_id=tenant_id
    )
    return UsageOut(
        rows=[UsageRowOut.model_validate(r) for r in rows],
        total_characters=sum(r.characters for r in rows),
        total_audio_seconds=sum(r.audio_seconds for r in rows),
        total_cost_micros=sum(r.cost_micros for r in rows),
    )
