"""A stop whose grace runs out under an inline request.

uvicorn waits ``timeout_graceful_shutdown`` for requests in flight, then cancels them
and shuts the app down at once. The request's hold was given back in a cleanup that
the shutdown overtook (the database closed under it, the process exited): the hold
sat on the tenant's budget for an hour; and the caller got uvicorn's plain-text 500
(helper-99). It gets a 503 problem it can retry, and its hold is given back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from scaispeak.app import create_app
from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation, ReservationState
from scaispeak.platform.db import Database
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import make_settings
from tests.support.server import ServerThread, bootstrap_key

PIPER = "voc_piper_en-us-joe-medium"


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    opened = threading.Event()
    yield opened
    opened.set()  # lets the engine call the test held go


async def _held_reservations(database_url: str) -> list[str]:
    db = Database(database_url)
    try:
        async with db.sessions() as session:
            held = Reservation.state == ReservationState.held
            return list((await session.execute(select(Reservation.id).where(held))).scalars())
    finally:
        await db.dispose()


@pytest.mark.parametrize("release_takes_s", [0.0, 1.0], ids=["quick", "slow"])
def test_a_request_cut_off_by_a_stop_gets_a_503_and_its_hold_back(
    tmp_path: Path,
    engines: EngineRegistry,
    gate: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
    release_takes_s: float,
) -> None:
    """A slow release (a loaded database) was overtaken by the shutdown."""
    release = accounting.release

    async def slow_release(*args: Any, **kwargs: Any) -> bool:
        await asyncio.sleep(release_takes_s)
        return await release(*args, **kwargs)

    monkeypatch.setattr(accounting, "release", slow_release)
    settings = make_settings(tmp_path)
    key = asyncio.run(bootstrap_key(settings.resolved_database_url, "stop@example.com"))
    app = create_app(settings, engines=engines)
    pipeline = app.state.speak.pipeline
    speaking = threading.Event()

    async def held_forever(*_args: Any, **_kwargs: Any) -> Any:
        speaking.set()
        await asyncio.to_thread(gate.wait, 3)  # past the stop's grace (0.5 s)
        raise AssertionError("the stop was to cut this off")

    pipeline.speak_segment = held_forever
    headers = {"Authorization": f"Bearer {key}"}
    answers: list[httpx.Response] = []
    server = ServerThread(app)
    server.server.config.timeout_graceful_shutdown = 0.5

    def ask() -> None:
        body = {"text": "A sentence held in the engine.", "voice_id": PIPER}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            answers.append(http.post("/v1/modules/scaispeak/speak", json=body))

    asking = threading.Thread(target=ask)
    with server:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            tenant = http.get("/v1/auth/me").json()["tenant_id"]
            budget = {"limit_micros": 10**12, "period": "month"}
            assert http.put(f"/v1/tenants/{tenant}/budget", json=budget).status_code == 200
        asking.start()
        assert speaking.wait(30)
        assert asyncio.run(_held_reservations(settings.resolved_database_url))
    # Leaving the block stopped the server: 0.5 s of grace, then the cut.
    asking.join(30)

    [answer] = answers
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "server_stopping"
    assert int(answer.headers["retry-after"]) >= 1
    assert asyncio.run(_held_reservations(settings.resolved_database_url)) == []
