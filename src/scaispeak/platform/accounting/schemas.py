"""Bodies of the budget and usage endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from scaispeak.platform.accounting.models import BudgetPeriod

MAX_MICROS = 2**63 - 1
"""The largest amount a counter (a signed 64-bit column) holds."""


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
