"""What a stream session needs from the service around it, as protocols: the session
(session.py) knows no database, budget or policy, only these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from scaispeak.speak.streaming import protocol as p
from scaispeak.speak.synthesis.service import StreamSpec

Opener = Callable[[p.StartMessage], Awaitable[StreamSpec]]
"""Checks a ``start`` (voice, format, rate, speed) for the caller; raises ServiceError."""


class Coverage(Protocol):
    """Pays for text before it is spoken (billing.StreamBilling); raises ServiceError."""

    async def cover(self, chars_needed: int) -> None: ...


class Permit(Protocol):
    """Checks that the stream may still speak (permit.StreamPermit); raises ServiceError."""

    async def check(self) -> None: ...
