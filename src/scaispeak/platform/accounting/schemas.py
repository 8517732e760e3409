"""Bodies of the budget and usage endpoints."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from scaispeak.platform.accounting.models import BudgetPeriod

MAX_MICROS = 10**18
"""The largest budget: a million million credits, below what a counter (a signed 64-bit
column) holds. 2**63 - 1 was the limit, which /openapi.json, writing bounds as floats,
gave as 2**63: one more than was accepted (helper-98); 10**18 is a float exactly."""


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _written_as_a_day(value: object) -> object:
    # Pydantic reads a date from a Unix time too: "?start=0" was 1970-01-01, and
    # "?start=86400" a confusing "should have zero time" error (helper-98).
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


CalendarDay = Annotated[date, BeforeValidator(_written_as_a_day)]
"""A query's day, as docs/accounting.md writes it: YYYY-MM-DD, nothing else."""


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass unnoticed
    period: BudgetPeriod = BudgetPeriod.month
    limit_micros: int = Field(
        strict=True, ge=0, le=MAX_MICROS, description="Spending limit per period, micro-credits."
    )
    per_user_limit_micros: int | None = Field(
        None, strict=True, ge=0, le=MAX_MICROS, description="Optional cap per user."
    )


class BudgetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    tenant_id: str
    period: BudgetPeriod
    period_key: str
    limit_micros: int
    per_user_limit_micros: int | None
    spent_micros: int
    reserved_micros: int


class UsageRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    day: str
    user_id: str
    backend: str
    kind: str
    requests: int
    characters: int
    audio_seconds: float
    cost_micros: int


class UsageOut(BaseModel):
    rows: list[UsageRowOut]
    total_characters: int
    total_audio_seconds: float
    total_cost_micros: int
