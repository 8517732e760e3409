"""A relayed job its caller cancels pays for what the relay has spoken of it: the
upstream billed us for those characters, and a free cancel let a tenant have the
upstream speak up to a whole job's text (500,000 characters) again and again at our
cost. A self-hosted job's cancel stays free (test_jobs_embedded.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from sqlalchemy import select

from scaispeak.platform.accounting.models import UsageEntry
from scaispeak.speak.engines.registry import EngineRegistry
from tests.platform.test_accounting import set_budget
from tests.speak.jobs.test_jobs_embedded import submit, wait_for
from tests.support.polling import until
from tests.support.relay import handler_upstream, put_policy, relaying_app

RELAY_PRICE = 30  # micros a character: BackendSettings' default relay price


@asynccontextmanager
async def gated_upstream(answered: int) -> AsyncIterator[dict[str, Any]]:
    """An OpenAI-style upstream that answers ``answered`` calls with a tone, then holds
    every later call until the test ends."""
    state: dict[str, Any] = {"inputs": [], "gate": asyncio.Event()}

    async def speech(request: web.Request) -> web.StreamResponse:
        text = (await request.json())["input"]
        state["inputs"].append(text)
        if len(state["inputs"]) > answered:
            await state["gate"].wait()
        n = int(24000 * 0.05 * len(text))
        tone = 0.3 * np.sin(np.arange(n) * 2 * np.pi * 220 / 24000)
        return web.Response(body=(tone * 32767).astype("<i2").tobytes(), content_type="audio/pcm")

    async with handler_upstream(speech) as url:
        state["url"] = url
        try:
            yield state
        finally:
            state["gate"].set()  # held calls end before the server stops


async def test_a_cancelled_relayed_job_pays_for_the_characters_the_relay_spoke(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    sentences = [f"This is sentence number {n} of a long relayed story." for n in range(40)]
    async with (
        gated_upstream(answered=10) as upstream,
        relaying_app(tmp_path, engines, upstream["url"], "k") as app,
    ):
        await put_policy(app, ["relay"], "relay", failover=False)
        assert (await set_budget(app, limit=10**9)).status_code == 200
        job = (await submit(app, text=" ".join(sentences))).json()
        spoken = sum(map(len, sentences[:10]))

        async def ten_segments_checkpointed() -> bool:
            running = await wait_for(app, job["id"], {"running"})
            return bool(running["progress"]["characters_done"] >= spoken)

        await until(ten_segments_checkpointed, "the ten answered segments' checkpoint", 120)
        cancelled = await app.client.delete(
            f"/v1/modules/scaispeak/jobs/{job['id']}", headers=app.auth(app.tenancy.member_a)
        )
        assert cancelled.json()["state"] == "cancelled", cancelled.text
        async with app.app.state.platform.db.sessions() as session:
            line = (
                await session.execute(select(UsageEntry).where(UsageEntry.request_id == job["id"]))
            ).scalar_one()
        budget = (
            await app.client.get(
                f"/v1/tenants/{app.tenancy.tenant_a}/budget",
                headers=app.auth(app.tenancy.member_a),
            )
        ).json()
    assert (line.backend, line.characters) == ("relay", spoken)
    assert budget["spent_micros"] == line.cost_micros == RELAY_PRICE * spoken
    assert budget["reserved_micros"] == 0  # the rest of the hold went back
