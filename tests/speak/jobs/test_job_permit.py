"""A running job stops when its voice may no longer speak (its licence ran out) or its
tenant's policy no longer allows its backends, as a new request would be refused:
the hold is released and nothing is charged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from scaispeak.platform.accounting.models import Reservation, ReservationState, UsageEntry
from scaispeak.speak.backends.catalog import Route
from scaispeak.speak.backends.models import TenantPolicy
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.errors import BackendNotAllowed
from scaispeak.speak.jobs import permit
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.jobs.permit import allowed_by
from scaispeak.speak.voices.models import Voice
from tests.conftest import LiveApp
from tests.speak.jobs.test_jobs_embedded import STORY, wait_for
from tests.speak.voices.test_global_voices import licensed_voice
from tests.support.relay import put_policy, relaying_app
from tests.support.server import free_port

GLOBAL = "/v1/modules/scaispeak/voices/global"


@asynccontextmanager
async def gated_app(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[LiveApp, asyncio.Event, list[int]]]:
    """An app (with a relay configured, never reached) whose segments after a job's
    first wait for the gate; the list records the segments spoken (-1 - index: asked)."""
    monkeypatch.setattr(permit, "RECHECK_S", 0.0)
    dead = f"http://127.0.0.1:{free_port()}"
    # The relay speaks no global voice here: a job with one has no relay route.
    async with relaying_app(tmp_path, engines, dead, "x", relay_global_voices=False) as app:
        pipeline = app.app.state.speak.pipeline
        speak = pipeline.speak_segment
        gate, spoken = asyncio.Event(), []

        async def gated(index: int, *args: Any, **kwargs: Any) -> Any:
            spoken.append(-1 - index)
            if index > 0:
                await gate.wait()
            made = await speak(index, *args, **kwargs)
            spoken.append(index)
            return made

        monkeypatch.setattr(pipeline, "speak_segment", gated)
        yield app, gate, spoken


async def start_job(app: LiveApp, voice_id: str, spoken: list[int]) -> str:
    """A three-segment job, started and held at its second segment (which was let
    through the job's checks)."""
    accepted = await app.client.post(
        "/v1/modules/scaispeak/speak",
        json={"text": STORY, "voice_id": voice_id, "mode": "async"},
        headers=app.auth(app.tenancy.member_a),
    )
    assert accepted.status_code == 202, accepted.text
    job_id: str = accepted.json()["id"]
    for _ in range(600):
        if -2 in spoken:
            return job_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"the job's second segment was never asked for: {spoken}")


async def stopped_unbilled(
    app: LiveApp, job_id: str, spoken: list[int], error: str, state: str = "failed"
) -> None:
    job = await wait_for(app, job_id, {"succeeded", "failed", "cancelled"})
    assert job["state"] == state and error in job["error"], job
    assert spoken == [-1, 0, -2, 1]  # the third segment was never asked for
    async with app.app.state.platform.db.sessions() as session:
        row = await session.get(SynthJob, job_id)
        assert row is not None
        hold = await session.get(Reservation, row.reservation_id)
        assert hold is None or hold.state is not ReservationState.held
        charged = await session.scalars(select(UsageEntry).where(UsageEntry.request_id == job_id))
        assert list(charged) == []


async def test_a_job_stops_when_its_voice_licence_runs_out(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gated_app(tmp_path, engines, monkeypatch) as (app, gate, spoken):
        root = app.auth(app.tenancy.superadmin)
        voice = (await app.client.post(GLOBAL, json=licensed_voice(), headers=root)).json()
        job_id = await start_job(app, voice["id"], spoken)
        ended = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        patched = await app.client.patch(
            f"{GLOBAL}/{voice['id']}", json={"licence": {"valid_until": ended}}, headers=root
        )
        assert patched.status_code == 200, patched.text
        gate.set()
        await stopped_unbilled(app, job_id, spoken, "licence")


async def test_a_job_whose_voice_it_finds_withdrawn_is_cancelled_not_failed(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's own check can read the withdrawal before the withdrawal's cancel
    (service.cancel_jobs_of_voice) reaches the job: it ends the same way, cancelled."""
    async with gated_app(tmp_path, engines, monkeypatch) as (app, gate, spoken):
        root = app.auth(app.tenancy.superadmin)
        voice = (await app.client.post(GLOBAL, json=licensed_voice(), headers=root)).json()
        job_id = await start_job(app, voice["id"], spoken)
        async with app.app.state.platform.db.sessions() as session:  # no cancel follows
            row = await session.get(Voice, voice["id"])
            assert row is not None
            row.revoked_at = datetime.now(UTC)
            await session.commit()
        gate.set()
        await stopped_unbilled(app, job_id, spoken, "withdrawn", state="cancelled")


async def test_a_job_stops_when_the_policy_no_longer_allows_its_backend(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gated_app(tmp_path, engines, monkeypatch) as (app, gate, spoken):
        job_id = await start_job(app, "voc_piper_en-us-joe-medium", spoken)
        await put_policy(app, ["relay"], "relay", failover=False)
        gate.set()
        await stopped_unbilled(app, job_id, spoken, "policy")


def test_a_narrower_policy_narrows_the_job_backends() -> None:
    local, relay = Route("selfhosted", "piper", "joe"), Route("relay", "relay", "alloy")
    both = TenantPolicy(allowed_backends=["selfhosted", "relay"], failover=True)
    assert allowed_by(both, [local, relay]) == [local, relay]
    no_failover = TenantPolicy(allowed_backends=["selfhosted", "relay"], failover=False)
    assert allowed_by(no_failover, [relay, local]) == [relay]
    relay_only = TenantPolicy(allowed_backends=["relay"], failover=True)
    assert allowed_by(relay_only, [local, relay]) == [relay]
    with pytest.raises(BackendNotAllowed):
        allowed_by(relay_only, [local])
