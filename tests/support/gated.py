"""A real server whose engine can be held between segments: the first segment of a
request is spoken at once, the rest wait for a gate (tests of speech sent as it is
made, and of callers who hang up part-way)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from scaispeak.platform.accounting.models import Reservation, ReservationState, UsageEntry
from scaispeak.platform.db import Database
from tests.support.server import ServerThread

TEXT = (
    "The lighthouse keeper climbed the stairs at dusk. "
    "He polished the great lens until it shone. "
    "Far out at sea, the fishing boats turned for home."
)
SEGMENTS = 3


class Served:
    def __init__(self, server: ServerThread, key: str, app: Any, database_url: str) -> None:
        self.server, self.key, self.app, self.database_url = server, key, app, database_url

    def post(self, client: httpx.Client, **body: Any) -> Any:
        request = {"model": "tts-1", "voice": "onyx", "input": TEXT, **body}
        return client.stream(
            "POST",
            f"{self.server.url}/v1/audio/speech",
            json=request,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=120,
        )

    def ledger(self, request_id: str) -> list[UsageEntry]:
        return self.server.call(self._rows(UsageEntry, UsageEntry.request_id == request_id))

    def held(self) -> list[Reservation]:
        return self.server.call(self._rows(Reservation, Reservation.state == ReservationState.held))

    def ledger_size(self) -> int:
        return self.server.call(self._count())

    async def _count(self) -> int:
        db = Database(self.database_url)
        try:
            async with db.sessions() as session:
                return int((await session.scalar(select(func.count(UsageEntry.id)))) or 0)
        finally:
            await db.dispose()

    async def _rows(self, model: Any, where: Any) -> list[Any]:
        db = Database(self.database_url)
        try:
            async with db.sessions() as session:
                return list((await session.execute(select(model).where(where))).scalars())
        finally:
            await db.dispose()
