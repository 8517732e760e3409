"""Reserve before work, settle after: budgets that concurrent requests cannot overspend.

``reserve`` holds money with a conditional UPDATE on the period's counter row
(``spent + reserved + amount <= limit``), so two requests racing for the last credit
cannot both win, on SQLite or PostgreSQL. ``settle`` turns a hold into one ledger line
(at most once per reservation: the ledger's unique reservation_id makes it
idempotent); ``release`` returns the hold when work fails or is cancelled unbilled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting.counters import (
    TENANT_ROW,
    add_spent,
    count_under_a_new_budget,
    ensure_counter,
    move_counters,
    period_key,
)
from scaispeak.platform.accounting.models import (
    Budget,
    Reservation,
    ReservationState,
    SpendCounter,
    UsageEntry,
)
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import new_id, utcnow
from scaispeak.platform.errors import ServiceError

_log = logging.getLogger(__name__)

UNBUDGETED = ""
"""period_key of a reservation for a tenant without a budget (never stored)."""


class HoldReleased(RuntimeError):
    """Settling a job's hold that was released (the job was cancelled or given up)."""


class BudgetExceeded(ServiceError):
    """The tenant's (or the user's) budget for this period cannot cover the request."""

    status, code, title = 402, "budget_exceeded", "Budget exceeded"


@dataclass(frozen=True)
class Charge:
    """What a finished piece of work costs; becomes one ledger line."""

    voice_id: str
    backend: str
    kind: str
    characters: int
    audio_seconds: float
    cost_micros: int
    request_id: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: Mapping[str, object]) -> Charge:
        return cls(**stored)  # type: ignore[arg-type]


async def reserve(
    session: AsyncSession, principal: Principal, amount_micros: int, *, long_running: bool = False
) -> Reservation:
    """Hold ``amount_micros`` against the caller's budgets, or raise BudgetExceeded.

    A tenant without a budget gets an unbudgeted reservation that is never stored:
    there is nothing to hold, and skipping the write keeps the hot path short. Either
    way the transaction is over on return: the caller synthesizes next, and a session
    left "idle in transaction" would pin a pooled connection for the whole synthesis
    (30 such requests exhausted PostgreSQL's pool and every other request waited).
    """
    reservation = await hold(session, principal, amount_micros, long_running=long_running)
    await session.commit()
    return reservation


async def hold(
    session: AsyncSession, principal: Principal, amount_micros: int, *, long_running: bool = False
) -> Reservation:
    """``reserve`` without the commit: the hold lands with whatever the caller commits
    next (a job row), or not at all. A refusal rolls the transaction back."""
    budget = await session.get(Budget, principal.tenant_id)
    now = utcnow()  # read once: its period and its time must agree, midnight or not
    reservation = unbudgeted_hold(principal, amount_micros, now, long_running=long_running)
    if budget is None:
        return reservation
    reservation.period_key = period_key(budget.period, now)
    reservation.user_capped = budget.per_user_limit_micros is not None
    await _hold(session, budget, reservation)
    session.add(reservation)
    return reservation


def unbudgeted_hold(
    principal: Principal, amount_micros: int, now: datetime, *, long_running: bool = False
) -> Reservation:
    """A hold that no budget counts, never stored: a tenant without a budget's, and
    free work's (a clone at a price of 0 is recorded even past a spent budget)."""
    return Reservation(
        id=new_id("rsv"),
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        period_key=UNBUDGETED,
        amount_micros=amount_micros,
        state=ReservationState.held,
        long_running=long_running,
        created_at=now,  # set here: an unbudgeted hold is never stored
    )


async def _hold(session: AsyncSession, budget: Budget, reservation: Reservation) -> None:
    rows = [(TENANT_ROW, budget.limit_micros)]
    if budget.per_user_limit_micros is not None:
        rows.append((reservation.user_id, budget.per_user_limit_micros))
    for user_id, limit in rows:
        await ensure_counter(session, reservation.tenant_id, user_id, reservation.period_key)
        held = await session.execute(
            update(SpendCounter)
            .where(
                SpendCounter.tenant_id == reservation.tenant_id,
                SpendCounter.user_id == user_id,
                SpendCounter.period_key == reservation.period_key,
                SpendCounter.spent_micros + SpendCounter.reserved_micros + reservation.amount_micros
                <= limit,
            )
            .values(reserved_micros=SpendCounter.reserved_micros + reservation.amount_micros)
        )
        if held.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            whose = "your user" if user_id else "the tenant"
            raise BudgetExceeded(
                f"This request needs {reservation.amount_micros} micro-credits; "
                f"{whose} budget for {reservation.period_key} cannot cover it.",
                limit_micros=limit,
            )


async def settle(session: AsyncSession, reservation: Reservation, charge: Charge) -> UsageEntry:
    """Record the actual cost once; later calls for the same reservation are no-ops."""
    if reservation.period_key == UNBUDGETED:
        return await _append_once(session, reservation, charge)
    reservation_id = reservation.id  # a rollback expires the instance
    if not await _transition(session, reservation, ReservationState.settled):
        if await find_settlement(session, reservation_id) is not None:
            await session.rollback()  # a second settlement: what came with it must not land
            return await _existing_line(session, reservation_id)  # read after the rollback
        # Swept while the work ran: charged all the same, and what the caller meant to
        # land with the charge (a save_to file) lands with it. A rollback here had
        # undone the file while the charge still went through.
        return await _charge_after_release(session, reservation_id, charge)
    await move_counters(session, reservation, spent=charge.cost_micros)
    entry = _ledger_line(reservation, charge)
    session.add(entry)
    await session.commit()
    return entry


async def _charge_after_release(
    session: AsyncSession, reservation_id: str, charge: Charge
) -> UsageEntry:
    """Charge work whose hold a stale-hold sweep gave back while it was still running
    (a long stream on another replica): the money is spent all the same, so it is
    counted as spent with nothing left to unreserve. Once only: the ledger's unique
    reservation_id refuses a second line, and the counter moves in the same commit.
    """
    # Read afresh: the caller's instance may be stale, or detached.
    reservation = await session.get(Reservation, reservation_id, populate_existing=True)
    assert reservation is not None  # reservations are never deleted
    if reservation.long_running:  # a job's hold is released on purpose, never swept
        await session.rollback()  # nothing of the cancelled work lands
        raise HoldReleased(f"the hold {reservation_id} was released; nothing is charged")
    await add_spent(session, reservation, charge.cost_micros)
    entry = _ledger_line(reservation, charge)
    session.add(entry)
    try:
        await session.commit()
    except IntegrityError:  # a concurrent settlement of the same hold got there first
        await session.rollback()
        return await _existing_line(session, reservation_id)
    return entry


async def settle_or_release(
    session: AsyncSession, reservation: Reservation, charge: Charge
) -> UsageEntry:
    """``settle``, and if the settlement fails, give the hold back before raising: the
    request fails unbilled, and its hold does not sit on the budget until the
    stale-hold sweep. (A settlement that did commit is not undone: release then finds
    the reservation settled and does nothing.)"""
    held = reservation.id  # read now: a failed flush leaves the instance unreadable
    try:
        return await settle(session, reservation, charge)
    except BaseException:
        await release_after_failure(session, reservation, held)
        raise


async def release_after_failure(session: AsyncSession, reservation: Reservation, held: str) -> None:
    """``release`` on a session whose transaction just failed; never raises, so the
    settlement's own error is the one reported."""
    try:
        await session.rollback()
        if inspect(reservation).persistent:
            await session.refresh(reservation)  # the rollback expired it
        await release(session, reservation)
    except Exception:
        _log.exception("releasing hold %s failed; the stale-hold sweep will", held)


async def _append_once(
    session: AsyncSession, reservation: Reservation, charge: Charge
) -> UsageEntry:
    # The ledger's unique reservation_id is what makes a repeated settle harmless.
    await count_under_a_new_budget(session, reservation, charge.cost_micros)
    entry = _ledger_line(reservation, charge)
    session.add(entry)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return await _existing_line(session, reservation.id)
    return entry


async def find_settlement(session: AsyncSession, reservation_id: str) -> UsageEntry | None:
    """The ledger line that settled a reservation, if it has been settled."""
    found = await session.execute(
        select(UsageEntry).where(UsageEntry.reservation_id == reservation_id)
    )
    return found.scalar_one_or_none()


async def _existing_line(session: AsyncSession, reservation_id: str) -> UsageEntry:
    found = await session.execute(
        select(UsageEntry).where(UsageEntry.reservation_id == reservation_id)
    )
    return found.scalar_one()


async def release(session: AsyncSession, reservation: Reservation) -> bool:
    """Give the held money back (failed or cancelled-before-delivery work); whether
    this call did (False: unbudgeted, or settled or released already)."""
    if reservation.period_key == UNBUDGETED:
        return False
    released = await _transition(session, reservation, ReservationState.released)
    if released:
        await move_counters(session, reservation, spent=0)
    await session.commit()
    return released


async def _transition(
    session: AsyncSession, reservation: Reservation, to: ReservationState
) -> bool:
    result = await session.execute(
        update(Reservation)
        .where(Reservation.id == reservation.id, Reservation.state == ReservationState.held)
        .values(state=to)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _ledger_line(reservation: Reservation, charge: Charge) -> UsageEntry:
    return UsageEntry(
        tenant_id=reservation.tenant_id,
        user_id=reservation.user_id,
        voice_id=charge.voice_id,
        backend=charge.backend,
        kind=charge.kind,
        characters=charge.characters,
        audio_seconds=charge.audio_seconds,
        cost_micros=charge.cost_micros,
        request_id=charge.request_id,
        reservation_id=reservation.id,
        charged_at=reservation.created_at or utcnow(),  # a hold made before it was stamped
    )


async def renew(
    session: AsyncSession,
    reservations: list[Reservation],
    delivered: Mapping[str, Charge] | None = None,
) -> None:
    """Mark holds as still in use, so the stale-hold sweep leaves them be, and record
    with each what its work has delivered so far (by reservation id), which that
    sweep charges if the work never settles (its process died)."""
    stored = [r.id for r in reservations if r.period_key != UNBUDGETED]
    if not stored:
        return
    delivered = delivered or {}
    now = utcnow()
    for reservation_id in stored:
        charge = delivered.get(reservation_id)
        values: dict[str, object] = {"renewed_at": now}
        if charge is not None:
            values["delivered"] = charge.as_dict()
        await session.execute(
            update(Reservation)
            .where(Reservation.id == reservation_id, Reservation.state == ReservationState.held)
            .values(**values)
        )
    await session.commit()
