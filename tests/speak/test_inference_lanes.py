"""Engine calls take turns by tenant: an inline request's, a job's and a stream's calls
run in a lane of their tenant (synthesis/inference.py)."""

from __future__ import annotations

from typing import Any

import pytest

from scaispeak.speak.synthesis.inference import Lane
from tests.conftest import LiveApp
from tests.speak.jobs.test_jobs_embedded import submit, wait_for

SPEAK = "/v1/modules/scaispeak/speak"
JOE = "voc_piper_en-us-joe-medium"


@pytest.fixture
def lanes(sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pool = sqlite_app.app.state.speak.pool
    run = pool.run
    seen: list[Any] = []

    async def noting(*args: Any, lane: Any = None, **kwargs: Any) -> Any:
        seen.append(lane)
        return await run(*args, lane=lane, **kwargs)

    monkeypatch.setattr(pool, "run", noting)
    return seen


async def test_an_inline_requests_calls_run_in_a_lane_of_its_tenant(
    sqlite_app: LiveApp, lanes: list[Any]
) -> None:
    app = sqlite_app
    body = {"text": "One sentence here. And a second one there.", "voice_id": JOE}
    answer = await app.client.post(SPEAK, json=body, headers=app.auth(app.tenancy.member_a))
    assert answer.status_code == 200
    request_id = answer.headers["x-request-id"]
    assert lanes and set(lanes) == {Lane(app.tenancy.tenant_a, request_id)}


async def test_a_jobs_calls_run_in_a_lane_of_its_tenant(
    sqlite_app: LiveApp, lanes: list[Any]
) -> None:
    job = (await submit(sqlite_app)).json()
    await wait_for(sqlite_app, job["id"], {"succeeded"})
    assert lanes and set(lanes) == {Lane(sqlite_app.tenancy.tenant_a, job["id"])}
