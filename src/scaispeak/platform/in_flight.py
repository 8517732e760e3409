"""The requests and WebSockets being served, counted, so that a stop can wait for them.

A stop whose grace runs out cancels what is still open and shuts the app down at once.
The cancelled requests still have cleanup to do (a budget hold to give back), which
the shutdown overtook: the database closed under it and the process exited, and the
hold stayed on the tenant's budget for an hour (helper-99). The app's shutdown waits
for them first (``app.py``).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send


class InFlight:
    """How many calls are being served; ``drained`` waits until none are."""

    def __init__(self) -> None:
        self.open = 0
        self._none_open = asyncio.Event()
        self._none_open.set()

    def started(self) -> None:
        self.open += 1
        self._none_open.clear()

    def ended(self) -> None:
        self.open -= 1
        if not self.open:
            self._none_open.set()

    async def drained(self, timeout_s: float) -> bool:
        """Whether every call ended within ``timeout_s``."""
        try:
            await asyncio.wait_for(self._none_open.wait(), timeout_s)
        except TimeoutError:
            return False
        return True


class CountInFlight:
    """Plain ASGI middleware that counts HTTP requests and WebSockets in ``calls``."""

    def __init__(self, app: ASGIApp, calls: InFlight) -> None:
        self.app = app
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        self.calls.started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.calls.ended()
