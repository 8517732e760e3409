"""Paying for a stream: hold budget before speaking, settle for what was delivered.

A stream's text arrives piece by piece, so its cost is unknown up front. The stream
holds ``hold_chars`` worth of budget when it starts speaking and tops the hold up
whenever the text it has queued outgrows it (a refused top-up ends the stream with
``budget_exceeded``). When the stream ends, one ledger line charges the characters
whose audio was delivered and every hold is released or settled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import Database
from scaispeak.speak.streaming.delivery import StreamUsage


@dataclass
class StreamBilling:
    db: Database
    principal: Principal
    price_micros_per_char: int
    hold_chars: int
    backend: str = "selfhosted"
    voice_id: str = ""
    covered_chars: int = 0
    holds: list[Reservation] = field(default_factory=list)

    async def cover(self, chars_needed: int) -> None:
        """Make sure ``chars_needed`` characters are paid for; raises BudgetExceeded."""
        if chars_needed <= self.covered_chars:
            return
        step = max(self.hold_chars, chars_needed - self.covered_chars)
        async with self.db.sessions() as session:
            hold = await accounting.reserve(
                session, self.principal, step * self.price_micros_per_char
            )
        self.holds.append(hold)
        self.covered_chars += step

    async def settle(self, usage: StreamUsage, request_id: str) -> int:
        """Charge the delivered characters once; give back every hold. Returns the cost."""
        if not self.holds:
            return 0
        cost = usage.characters * self.price_micros_per_char
        charge = accounting.Charge(
            self.voice_id,
            self.backend,
            "stream",
            usage.characters,
            usage.audio_seconds,
            cost,
            request_id,
        )
        first, *rest = self.holds
        async with self.db.sessions() as session:
            if usage.characters:
                await accounting.settle(session, first, charge)
            else:
                await accounting.release(session, first)
            for hold in rest:
                await accounting.release(session, hold)
        self.holds.clear()
        return cost
