"""Paying for a stream: hold budget before speaking, settle for what was delivered.

A stream's text arrives piece by piece, so its cost is unknown up front. The stream
holds ``hold_chars`` worth of budget when it starts speaking and tops the hold up
whenever the text it has queued outgrows it (a refused top-up ends the stream with
``budget_exceeded``; where the budget's rest cannot cover a whole step, the hold is
only what the queued text needs). When the stream ends, one ledger line per budget
period charges the characters whose audio was delivered, and every hold is released or
settled.

A hold is taken in a task of its own: the reservation commits before ``reserve``
returns, so a barge-in or a disconnect that cancelled the stream at that moment would
otherwise lose a hold the database keeps (locked until a restart). A cancel only stops
the stream waiting; the task still remembers the hold, and ``settle`` waits for it.

A stream may talk for hours, longer than the stale-hold sweep lets an untouched hold
live (accounting/sweeper.py), so while it holds money it renews its holds every
``renew_every_s``, and records with them what it has delivered: if its process dies,
the sweep charges that instead of giving the holds back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation
from scaispeak.platform.accounting.service import BudgetExceeded
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.db import Database
from scaispeak.speak.streaming.delivery import StreamUsage

_log = logging.getLogger(__name__)


@dataclass
class StreamBilling:
    db: Database
    principal: Principal
    price_micros_per_char: int
    hold_chars: int
    renew_every_s: float = 900.0
    backend: str = "selfhosted"
    voice_id: str = ""
    covered_chars: int = 0
    holds: list[Reservation] = field(default_factory=list)
    delivered: Callable[[], StreamUsage] | None = None
    """What the stream has delivered so far, recorded with each renewal."""
    request_id: str = ""
    _taking: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    """The hold being taken, if any: it may outlive the cover that asked for it."""
    _renewing: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _settling: bool = field(default=False, init=False, repr=False)
    """Set by ``settle``: a hold landing after it starts no renewal."""

    async def cover(self, chars_needed: int) -> None:
        """Make sure ``chars_needed`` characters are paid for; raises BudgetExceeded."""
        await self._hold_taken()  # one a cancelled cover left landing counts too
        if chars_needed <= self.covered_chars:
            return
        needed = chars_needed - self.covered_chars
        self._taking = asyncio.ensure_future(self._take_hold(needed))
        await asyncio.shield(self._taking)  # a cancel stops this wait, not the hold

    async def _take_hold(self, needed: int) -> None:
        """Reserve ``hold_chars`` worth (or ``needed``, if more), or, where the budget's
        rest cannot cover that, only ``needed``: a tenant near the end of its budget
        can still stream a short text. Remembers the hold, with no cancel in between."""
        chars = max(self.hold_chars, needed)
        async with self.db.sessions() as session:
            try:
                hold = await self._reserve(session, chars)
            except BudgetExceeded:
                if needed >= chars:
                    raise
                chars = needed
                hold = await self._reserve(session, chars)
        self.holds.append(hold)
        self.covered_chars += chars
        if self._renewing is None and not self._settling:
            self._renewing = asyncio.create_task(self._renew_forever())

    async def _reserve(self, session: AsyncSession, chars: int) -> Reservation:
        return await accounting.reserve(session, self.principal, chars * self.price_micros_per_char)

    async def _renew_forever(self) -> None:
        """Tell the stale-hold sweep these holds are in use, and what they would be
        charged now, until ``settle``."""
        while True:
            await asyncio.sleep(self.renew_every_s)
            try:
                async with self.db.sessions() as session:
                    await accounting.renew(session, list(self.holds), self._charges_so_far())
            except Exception:  # a missed renewal costs nothing until the sweep's age
                _log.exception("renewing the holds of a stream failed")

    def _charges_so_far(self) -> dict[str, accounting.Charge]:
        """Each hold's charge if the stream ended now, as ``settle`` would make it."""
        usage = self.delivered() if self.delivered else None
        if usage is None or not usage.characters or not self.holds:
            return {}
        shares = period_shares(self.holds, usage.characters, self.price_micros_per_char)
        return {
            hold_id: self._charge(usage, chars, self.request_id)
            for hold_id, chars in shares.items()
            if chars
        }

    async def _hold_taken(self) -> None:
        """Wait until no hold is being taken. A refusal was its own cover's to raise."""
        if self._taking is not None:
            await asyncio.gather(asyncio.shield(self._taking), return_exceptions=True)

    async def settle(self, usage: StreamUsage, request_id: str) -> int:
        """Charge the delivered characters once; give back every hold. Returns the cost."""
        self._settling = True
        try:
            await self._hold_taken()
        finally:  # even when cancelled here: a renewal left running would never end
            await self._stop_renewing()
        if not self.holds:
            return 0
        cost = usage.characters * self.price_micros_per_char
        shares = period_shares(self.holds, usage.characters, self.price_micros_per_char)
        failed: list[Exception] = []
        for hold in self.holds:
            # Each hold in a session of its own, and on past one that fails: the others
            # would otherwise stay held for the stale-hold sweep, their speech unbilled.
            try:
                await self._settle_hold(hold, shares.get(hold.id, 0), usage, request_id)
            except Exception as exc:
                failed.append(exc)
        self.holds.clear()
        if failed:
            raise failed[0]
        return cost

    async def _settle_hold(
        self, hold: Reservation, chars: int, usage: StreamUsage, request_id: str
    ) -> None:
        async with self.db.sessions() as session:
            if chars:
                await accounting.settle(session, hold, self._charge(usage, chars, request_id))
            else:
                await accounting.release(session, hold)

    def _charge(self, usage: StreamUsage, chars: int, request_id: str) -> accounting.Charge:
        """The charge for ``chars`` of the stream's delivered characters."""
        seconds = usage.audio_seconds * chars / usage.characters
        cost = chars * self.price_micros_per_char
        return accounting.Charge(
            self.voice_id, self.backend, "stream", chars, seconds, cost, request_id
        )

    async def _stop_renewing(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.gather(self._renewing, return_exceptions=True)
            self._renewing = None


def period_shares(holds: list[Reservation], characters: int, price: int) -> dict[str, int]:
    """The delivered characters each hold settles: one line per budget period.

    Characters are paid by the holds in the order they were taken, each for what it
    covered, and a period's share is settled on its first hold (its others released):
    a stream that talks past midnight charges the new day what it spoke in it, rather
    than charging the old day everything and leaving the new one's budget untouched.
    """
    shares: dict[str, int] = {}
    first_of: dict[str, str] = {}
    left = characters
    for hold in holds:
        covered = hold.amount_micros // price if price else 0
        taken = min(left, covered)
        first = first_of.setdefault(hold.period_key, hold.id)
        shares[first] = shares.get(first, 0) + taken
        left -= taken
    if left:  # nothing to cover them by (free speech): the latest period's
        last = first_of[holds[-1].period_key]
        shares[last] = shares.get(last, 0) + left
    return shares
