"""The spend counters a budget reads: one row per tenant (and per capped user) and period.

A hold adds to ``reserved_micros`` on the rows of the budget in force when it was made;
a settlement takes it off those rows and counts the cost as spent on the rows the
budget reads *now*. The two differ when a superadmin changes the budget's period or
adds a per-user cap while work runs (a job can run for hours): counted on the old
rows, that work's cost escaped the new budget for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting.models import Budget, BudgetPeriod, Reservation, SpendCounter
from scaispeak.platform.db import utcnow

TENANT_ROW = ""
"""user_id of the counter row that holds the whole tenant's spend."""


def period_start(period: BudgetPeriod, moment: datetime) -> datetime | None:
    """When the period holding ``moment`` began (UTC); None for ``total``."""
    if period is BudgetPeriod.day:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is BudgetPeriod.month:
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


def period_key(period: BudgetPeriod, moment: datetime) -> str:
    if period is BudgetPeriod.day:
        return moment.strftime("%Y-%m-%d")
    if period is BudgetPeriod.month:
        return moment.strftime("%Y-%m")
    return "total"


async def ensure_counter(session: AsyncSession, tenant_id: str, user_id: str, key: str) -> None:
    values = {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "period_key": key,
        "reserved_micros": 0,
        "spent_micros": 0,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(SpendCounter).values(**values).on_conflict_do_nothing())


async def move_counters(session: AsyncSession, reservation: Reservation, spent: int) -> None:
    """Unreserve the hold's amount and count ``spent`` as spent."""
    await _update_counters(session, reservation, reservation.amount_micros, spent)


async def add_spent(session: AsyncSession, reservation: Reservation, spent: int) -> None:
    """Count ``spent`` on a hold that is no longer reserved."""
    await _update_counters(session, reservation, 0, spent)


async def _update_counters(
    session: AsyncSession, reservation: Reservation, unreserved: int, spent: int
) -> None:
    held = (reservation.period_key, _users(reservation, reservation.user_capped))
    now = held if not spent else (await _rows_read_now(session, reservation) or held)
    if now == held:  # the budget is as it was: one statement does both
        await _change(session, reservation, held, reserved=-unreserved, spent=spent)
        return
    if unreserved:
        await _change(session, reservation, held, reserved=-unreserved, spent=0)
    await _count_spent(session, reservation, now, spent)


Rows = tuple[str, list[str]]
"""A period key and the counter rows' user ids in it."""


def _users(reservation: Reservation, capped: bool) -> list[str]:
    return [TENANT_ROW] + ([reservation.user_id] if capped else [])


async def _rows_read_now(session: AsyncSession, reservation: Reservation) -> Rows | None:
    """The rows the tenant's budget counts this hold's spending on now: the period of
    the hold's moment under the budget's period now, and the user's row if it is capped
    now. None if the tenant has no budget.

    The budget is read under a share lock (PostgreSQL): a budget change recounts the
    new rows from the ledger, and a settlement that read the old budget just before it
    committed would then count this line on rows the recount had left behind. Now the
    change waits for this commit (and its sum has the line), or this read waits for the
    change (and counts on its rows). SQLite has one writer at a time, and a settlement
    has written before it gets here."""
    budget = await session.get(
        Budget, reservation.tenant_id, with_for_update={"read": True}, populate_existing=True
    )
    if budget is None or reservation.created_at is None:
        return None
    key = period_key(budget.period, reservation.created_at)
    return key, _users(reservation, budget.per_user_limit_micros is not None)


async def _count_spent(
    session: AsyncSession, reservation: Reservation, rows: Rows, spent: int
) -> None:
    """Count ``spent`` on ``rows``, made first where no counter has them yet."""
    for user_id in rows[1]:
        await ensure_counter(session, reservation.tenant_id, user_id, rows[0])
    await _change(session, reservation, rows, reserved=0, spent=spent)


async def _change(
    session: AsyncSession, reservation: Reservation, rows: Rows, *, reserved: int, spent: int
) -> None:
    key, users = rows
    await session.execute(
        update(SpendCounter)
        .where(
            SpendCounter.tenant_id == reservation.tenant_id,
            SpendCounter.user_id.in_(users),
            SpendCounter.period_key == key,
        )
        .values(
            reserved_micros=SpendCounter.reserved_micros + reserved,
            spent_micros=SpendCounter.spent_micros + spent,
        )
    )


_BRIEF_WORK = timedelta(seconds=2)
"""Work held for less than this is not looked up under a new budget: one more query on
every unbudgeted request, to count the few that a budget set in their last moments
would miss (as with a per-user cap set while requests run)."""


async def count_under_a_new_budget(
    session: AsyncSession, reservation: Reservation, cost_micros: int
) -> None:
    """Count work held while its tenant had no budget on the budget it has now.

    A first budget starts from the ledger's spending in its period, and work still
    under way then (up to a hundred queued jobs, for hours) is not in the ledger yet:
    it would never have counted. Locking the counter row orders this with a recount
    (budgets.py): whichever commits second sees the other. A budget committed between
    this read and this commit, whose recount missed this line, still misses it.
    """
    held_at = reservation.created_at
    if held_at is None or utcnow() - held_at < _BRIEF_WORK:
        return  # kept off the hot path: see _BRIEF_WORK
    rows = await _rows_read_now(session, reservation)
    if rows is not None:
        await _count_spent(session, reservation, rows, cost_micros)
