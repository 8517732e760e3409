"""A stream whose process dies is billed for what it had delivered.

A replica killed mid-stream (kill -9, a lost machine) never settles its stream: its
holds were given back by the stale-hold sweep, and helper-95 streamed 116.6 s of audio
with no ledger line. A stream now records with each renewal of its holds what it has
delivered, and the sweep charges that.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from scaispeak.app import create_app
from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation, SpendCounter, UsageEntry
from scaispeak.platform.accounting.sweeper import release_stale
from scaispeak.settings import AccountingSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.streaming.billing import StreamBilling
from scaispeak.speak.streaming.delivery import StreamUsage
from tests.conftest import make_settings
from tests.speak.streaming.conftest import PIPER, Ledger
from tests.support.polling import until
from tests.support.server import ServerThread, bootstrap_key
from tests.support.stream_client import StreamClient


async def _dies_after_delivering(ledger: Ledger, usage: StreamUsage) -> None:
    """A stream that holds budget, delivers ``usage`` (recorded by its renewals every
    0.1 s), and then dies: no more renewals, no settlement; its hold is then stale."""
    delivered = [StreamUsage(0, 0.0, 0)]
    billing = StreamBilling(
        ledger.db,
        ledger.principal,
        15,
        hold_chars=100,
        renew_every_s=0.1,
        voice_id="voc_dead",
        delivered=lambda: delivered[0],
        request_id="str_dead",
    )
    await billing.cover(60)
    delivered[0] = usage
    await asyncio.sleep(0.35)  # renewals record the delivery
    assert billing._renewing is not None
    billing._renewing.cancel()  # the process dies
    await asyncio.sleep(1.0)


async def test_the_sweep_charges_what_a_dead_stream_had_delivered(ledger: Ledger) -> None:
    await _dies_after_delivering(ledger, StreamUsage(characters=40, audio_seconds=2.5, segments=1))

    async with ledger.db.sessions() as session:
        assert await release_stale(session, timedelta(seconds=0.8)) == 1
        lines = await session.execute(
            select(UsageEntry.characters, UsageEntry.audio_seconds, UsageEntry.cost_micros).where(
                UsageEntry.request_id == "str_dead", UsageEntry.kind == "stream"
            )
        )
        tenant_row = SpendCounter.user_id == accounting.TENANT_ROW
        spent = await session.execute(select(SpendCounter.spent_micros).where(tenant_row))
    assert lines.all() == [(40, 2.5, 40 * 15)]
    assert spent.scalars().all() == [40 * 15]
    assert await ledger.holds_left() == []
    assert await ledger.tenant_reserved_micros() == 0


async def test_a_dead_stream_that_delivered_nothing_has_its_hold_given_back(
    ledger: Ledger,
) -> None:
    await _dies_after_delivering(ledger, StreamUsage(0, 0.0, 0))

    async with ledger.db.sessions() as session:
        assert await release_stale(session, timedelta(seconds=0.8)) == 1
        assert (await session.execute(select(UsageEntry))).first() is None
    assert await ledger.tenant_reserved_micros() == 0


def test_a_live_stream_records_its_delivery_on_its_holds(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    """The wiring: a stream opened through the service records with its holds the
    characters it has delivered, while it is still open."""
    quick = AccountingSettings(stream_checkpoint_s=0.2)
    settings = make_settings(tmp_path, accounting=quick)
    key = asyncio.run(bootstrap_key(settings.resolved_database_url, "alive@example.com"))
    app = create_app(settings, engines=engines)
    with ServerThread(app) as server:
        asyncio.run(_set_a_budget(server.url, key))

        async def delivery_recorded() -> dict[str, object]:
            async with StreamClient.connect(server.url, key=key) as client:
                await client.send("start", voice_id=PIPER, format="pcm")
                started = (await client.event("started")).event
                assert started is not None
                await client.send("text", text="A sentence that is spoken. And then another.")
                await client.first_audio()
                found: list[dict[str, object]] = []

                def recorded() -> bool:
                    found[:] = server.call(_deliveries(app))
                    return bool(found) and found[0]["request_id"] == started["stream_id"]

                await until(recorded, "a checkpoint on the stream's hold", 20, every=0.05)
                await client.send("end")
                await client.event("done")
                return found[0]

        delivery = asyncio.run(delivery_recorded())
    assert delivery["kind"] == "stream" and delivery["voice_id"] == PIPER
    assert isinstance(delivery["characters"], int) and delivery["characters"] > 0


async def _set_a_budget(url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        tenant = (await http.get("/v1/auth/me")).json()["tenant_id"]
        budget = {"limit_micros": 10**12, "period": "month"}
        response = await http.put(f"/v1/tenants/{tenant}/budget", json=budget)
        assert response.status_code == 200, response.text


async def _deliveries(app: object) -> list[dict[str, object]]:
    async with app.state.platform.db.sessions() as session:  # type: ignore[attr-defined]
        rows = await session.execute(
            select(Reservation.delivered).where(Reservation.delivered.is_not(None))
        )
        return [dict(row) for row in rows.scalars()]


@pytest.mark.parametrize("checkpoint", [3600, 7200])
def test_a_checkpoint_must_come_before_the_sweep(checkpoint: int) -> None:
    with pytest.raises(ValueError, match="stream_checkpoint_s"):
        AccountingSettings(stale_reservation_s=3600, stream_checkpoint_s=checkpoint)
