"""Streams pay for delivered audio only, and cannot outrun their tenant's budget."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from scaispeak.platform.accounting.models import UsageEntry
from tests.speak.streaming.conftest import PIPER, StreamServer
from tests.support.stream_client import StreamClient, eventually

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

    await eventually(charged, "the stream's ledger line")
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
