"""Streams pay for delivered audio only, and cannot outrun their tenant's budget."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import (
    Budget,
    BudgetPeriod,
    Reservation,
    SpendCounter,
    UsageEntry,
)
from scaispeak.platform.accounting.sweeper import release_stale
from scaispeak.speak.streaming.billing import StreamBilling
from scaispeak.speak.streaming.delivery import StreamUsage
from tests.speak.streaming.conftest import PIPER, Ledger, StreamServer
from tests.speak.streaming.session_rig import SENTENCES, Rig, send
from tests.support.polling import until
from tests.support.stream_client import StreamClient

PARAGRAPH = (
    "The first clause is short, and the second one carries on for a while. "
    "Then comes another sentence, so that cancelling midway leaves words unsaid. "
    "And a last sentence closes the paragraph."
)


def ledger_lines(server: StreamServer, request_id: str) -> list[UsageEntry]:
    async def read() -> list[UsageEntry]:
        async with server.app.state.platform.db.sessions() as session:
            rows = await session.execute(
                select(UsageEntry).where(UsageEntry.request_id == request_id)
            )
            return list(rows.scalars())

    return server.server.call(read())


async def test_a_cancelled_stream_is_charged_only_for_delivered_characters(
    stream_server: StreamServer,
) -> None:
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER, format="pcm")
        stream_id = (await client.event("started")).event["stream_id"]  # type: ignore[index]
        await client.send("text", text=PARAGRAPH)
        await client.first_audio()
        await client.send("cancel")
        await client.event("cancelled")
        await client.send("end")
        done = (await client.event("done")).event
        await client.closed()
    assert done is not None
    lines: list[UsageEntry] = []

    def charged() -> bool:  # settled as the server closes the stream
        lines[:] = ledger_lines(stream_server, stream_id)
        return bool(lines)

    await until(charged, "the stream's ledger line", 30, every=0.02)
    (line,) = lines
    assert line.kind == "stream" and line.backend == "selfhosted"
    assert line.characters == done["usage"]["characters"] < len(PARAGRAPH)
    assert line.cost_micros == 15 * line.characters


async def test_a_stream_over_budget_gets_budget_exceeded(stream_server: StreamServer) -> None:
    """The tenant's budget covers less than one hold: the first segment is refused."""
    import httpx

    headers = {"Authorization": f"Bearer {stream_server.key}"}
    async with httpx.AsyncClient(base_url=stream_server.url, headers=headers) as http:
        me = (await http.get("/v1/auth/me")).json()
        tenant = (await http.post("/v1/tenants", json={"name": "poor"})).json()
        user = (
            await http.post(f"/v1/tenants/{tenant['id']}/users", json={"email": "poor@poor.com"})
        ).json()
        key = (await http.post(f"/v1/users/{user['id']}/keys", json={})).json()["secret"]
        budget = {"limit_micros": 100, "period": "month"}
        assert (
            await http.put(f"/v1/tenants/{tenant['id']}/budget", json=budget)
        ).status_code == 200
    assert me["role"] == "superadmin"
    async with StreamClient.connect(stream_server.url, key=key) as client:
        await client.send("start", voice_id=PIPER, format="pcm")
        await client.event("started")
        await client.send("text", text=PARAGRAPH)
        error = (await client.event("error")).event
        await asyncio.wait_for(client.closed(), 30)
    assert error is not None and error["code"] == "budget_exceeded"
    assert not client.audio()


class StallAfterCommit:
    """``accounting.reserve`` that, once its hold has committed, waits for ``resume``:
    the stream can be cancelled exactly between the commit and the hold being returned."""

    def __init__(self, reserve: Callable[..., Awaitable[Reservation]]) -> None:
        self._reserve = reserve
        self.committed = asyncio.Event()
        self.resume = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> Reservation:
        hold = await self._reserve(*args, **kwargs)
        self.committed.set()
        await self.resume.wait()
        return hold


@pytest.mark.parametrize("interruption", ["barge_in", "disconnect"])
async def test_a_hold_committed_as_the_stream_is_interrupted_is_still_returned(
    rig: Rig, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, interruption: str
) -> None:
    stall = StallAfterCommit(accounting.reserve)
    monkeypatch.setattr(accounting, "reserve", stall)
    billing = StreamBilling(ledger.db, ledger.principal, 15, hold_chars=2000)
    async with rig.session(coverage=billing) as session:
        await send(session, "start", voice_id="voc_held")
        await send(session, "text", text=SENTENCES)  # the first segment asks for a hold
        await asyncio.wait_for(stall.committed.wait(), 10)
        if interruption == "barge_in":
            await send(session, "cancel")
    # Leaving the block is the disconnect (and, after a barge-in, the end of the stream).
    stall.resume.set()
    await billing.settle(session.usage, session.stream_id)
    assert await ledger.holds_left() == []
    assert await ledger.tenant_reserved_micros() == 0


async def test_a_stream_renews_its_holds_so_the_stale_hold_sweep_leaves_them(
    ledger: Ledger,
) -> None:
    """A stream may outlive the sweep's age limit; an abandoned hold may not."""
    billing = StreamBilling(ledger.db, ledger.principal, 15, hold_chars=100, renew_every_s=0.1)
    await billing.cover(50)
    async with ledger.db.sessions() as session:
        await accounting.reserve(session, ledger.principal, 15)  # nobody renews this one
    await asyncio.sleep(1.2)
    async with ledger.db.sessions() as session:
        assert await release_stale(session, timedelta(seconds=0.8)) == 1
    assert [h.id for h in await ledger.holds_left()] == [billing.holds[0].id]
    await billing.settle(StreamUsage(characters=50, audio_seconds=3.0, segments=1), "req-renew")
    assert await ledger.holds_left() == []
    assert await ledger.tenant_reserved_micros() == 0


async def set_budget(ledger: Ledger, period: BudgetPeriod, limit_micros: int) -> None:
    async with ledger.db.sessions() as session:
        budget = await session.get(Budget, ledger.principal.tenant_id)
        assert budget is not None
        budget.period, budget.limit_micros = period, limit_micros
        await session.commit()


async def test_a_budget_too_low_for_a_whole_step_still_streams_a_short_text(
    ledger: Ledger,
) -> None:
    """2,000 characters' hold at once is more than the 100 left; 50 are not."""
    await set_budget(ledger, BudgetPeriod.month, 100 * 15)
    billing = StreamBilling(ledger.db, ledger.principal, 15, hold_chars=2000)
    await billing.cover(50)
    assert billing.covered_chars == 50
    with pytest.raises(accounting.BudgetExceeded):
        await billing.cover(200)  # more than is left: refused as before
    await billing.settle(StreamUsage(characters=50, audio_seconds=3.0, segments=1), "req-low")
    assert await ledger.tenant_reserved_micros() == 0


async def test_a_stream_past_midnight_charges_each_day_what_it_spoke_in_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    await set_budget(ledger, BudgetPeriod.day, 10**9)
    billing = StreamBilling(ledger.db, ledger.principal, 15, hold_chars=100)
    monkeypatch.setattr(accounting, "utcnow", lambda: datetime(2026, 3, 1, 23, 59, tzinfo=UTC))
    await billing.cover(100)
    monkeypatch.setattr(accounting, "utcnow", lambda: datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    await billing.cover(150)  # a second hold of 100, in the new day
    await billing.cover(250)  # and a third
    usage = StreamUsage(characters=240, audio_seconds=12.0, segments=4)
    assert await billing.settle(usage, "req-midnight") == 240 * 15
    async with ledger.db.sessions() as session:
        counters = await session.execute(
            select(SpendCounter.period_key, SpendCounter.spent_micros, SpendCounter.reserved_micros)
            .where(SpendCounter.user_id == accounting.TENANT_ROW)
            .order_by(SpendCounter.period_key)
        )
        lines = await session.execute(
            select(UsageEntry.characters, UsageEntry.audio_seconds)
            .where(UsageEntry.request_id == "req-midnight")
            .order_by(UsageEntry.characters)
        )
    assert counters.all() == [("2026-03-01", 100 * 15, 0), ("2026-03-02", 140 * 15, 0)]
    assert lines.all() == [(100, 5.0), (140, 7.0)]


async def test_a_hold_that_fails_to_settle_does_not_strand_the_others(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One failed settlement left every later hold held until the stale-hold sweep (an
    hour), and the speech they covered unbilled."""
    await set_budget(ledger, BudgetPeriod.day, 10**9)
    billing = StreamBilling(ledger.db, ledger.principal, 15, hold_chars=100)
    monkeypatch.setattr(accounting, "utcnow", lambda: datetime(2026, 3, 1, 23, 59, tzinfo=UTC))
    await billing.cover(100)
    monkeypatch.setattr(accounting, "utcnow", lambda: datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    await billing.cover(150)
    first = billing.holds[0].id
    settle = accounting.settle

    async def refused_once(session: Any, hold: Reservation, charge: Any) -> Any:
        if hold.id == first:
            raise ConnectionError("the database went away")
        return await settle(session, hold, charge)

    monkeypatch.setattr(accounting, "settle", refused_once)
    usage = StreamUsage(characters=150, audio_seconds=9.0, segments=2)
    with pytest.raises(ConnectionError):
        await billing.settle(usage, "req-partly")
    assert [h.id for h in await ledger.holds_left()] == [first]  # only the failed one
    async with ledger.db.sessions() as session:
        lines = await session.execute(
            select(UsageEntry.characters).where(UsageEntry.request_id == "req-partly")
        )
    assert lines.scalars().all() == [50]


async def test_a_settlement_runs_to_its_end_when_its_stream_is_cancelled() -> None:
    """A WebRTC hang-up cancels a session slow to wind down: its settlement was cut off."""
    from scaispeak.speak.streaming import setup

    release, finished = asyncio.Event(), asyncio.Event()

    async def slow_settlement() -> int:
        await release.wait()
        finished.set()
        return 0

    stream = asyncio.create_task(setup._settled(slow_settlement()))
    await asyncio.sleep(0)
    stream.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stream
    release.set()
    await asyncio.wait_for(finished.wait(), 5)


class CoverAsked:
    """A coverage that records what the session asks it to cover."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    async def cover(self, chars_needed: int) -> None:
        self.asked.append(chars_needed)


async def test_a_barge_in_needs_no_hold_for_its_unsaid_text(rig: Rig) -> None:
    """Every segment ever started stayed covered: a stream that kept interrupting itself
    ran out of budget at a third of what it spoke, and its holds blocked its colleagues
    (helper-89)."""
    covers = CoverAsked()
    sentence = "Sentence number one is right here."
    rig.sink.gate.clear()  # a listener slow to take audio: nothing is delivered yet
    async with rig.session(coverage=covers) as session:
        await send(session, "start", voice_id="voc_held")
        for turn in range(1, 7):
            await send(session, "text", text=sentence)
            await send(session, "flush")
            await rig.sink.wait_for(lambda turn=turn: len(covers.asked) >= turn)
            await send(session, "cancel")
        rig.sink.gate.set()
    assert session.usage.characters == 0
    assert covers.asked == [len(sentence)] * 6  # was 34, 68, ... 204
