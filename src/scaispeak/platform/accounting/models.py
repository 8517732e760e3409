"""Budgets, their running counters, reservations and the append-only usage ledger.

Money is stored in integer micro-credits (1 credit = 1,000,000) so sums are exact.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from scaispeak.platform.db import Base, new_id, str_enum, utcnow


class BudgetPeriod(enum.StrEnum):
    day = "day"
    month = "month"
    total = "total"


class ReservationState(enum.StrEnum):
    held = "held"
    settled = "settled"
    released = "released"


class Budget(Base):
    """A tenant's spending limit per period, with an optional cap per user."""

    __tablename__ = "budgets"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    period: Mapped[BudgetPeriod] = mapped_column(str_enum(BudgetPeriod))
    limit_micros: Mapped[int] = mapped_column(BigInteger)
    per_user_limit_micros: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class SpendCounter(Base):
    """Reserved and spent money for one tenant (user_id "") or user in one period.

    Reservations are conditional UPDATEs on this row, which is what keeps concurrent
    requests from overspending on SQLite and PostgreSQL alike.
    """

    __tablename__ = "spend_counters"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "user_id", "period_key"),)

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[str] = mapped_column(String(40))
    period_key: Mapped[str] = mapped_column(String(10))
    reserved_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class Reservation(Base):
    """Money held for work in progress; settled with the actual cost or released."""

    __tablename__ = "reservations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("rsv"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(40))
    period_key: Mapped[str] = mapped_column(String(10))
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    user_capped: Mapped[bool] = mapped_column(default=False)
    long_running: Mapped[bool] = mapped_column(default=False)
    """Held by a job that may run for hours: never released as stale (a job releases
    its own hold, whichever worker finishes it)."""
    state: Mapped[ReservationState] = mapped_column(
        str_enum(ReservationState), default=ReservationState.held, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    renewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When its work last said it is alive (a long stream renews its holds); the
    stale-hold sweep goes by this, or by ``created_at`` when never renewed."""
    delivered: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The charge for what its work had delivered when it last renewed (a stream's
    checkpoint, ``service.Charge`` as a dict): the stale-hold sweep settles a hold with
    this rather than giving it back, so a crashed replica's speech is billed up to
    its last checkpoint."""


class UsageEntry(Base):
    """One line of the append-only ledger: what was synthesized, by whom, at what cost."""

    __tablename__ = "usage_ledger"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("use"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(40), index=True)
    voice_id: Mapped[str] = mapped_column(String(80))
    backend: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    characters: Mapped[int] = mapped_column(Integer)
    audio_seconds: Mapped[float] = mapped_column(Float)
    cost_micros: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    reservation_id: Mapped[str | None] = mapped_column(String(40), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    """When the work settled."""
    charged_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    """When its hold was taken: the budget period it counts in, which the counters,
    a budget's recount and the usage report all go by (a job submitted before
    midnight and finished after it counts on the day it was submitted)."""
