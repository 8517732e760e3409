"""Tenants take turns: a job submitted behind another tenant's backlog runs next, not
after the whole backlog."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from scaispeak.settings import JobSettings
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import LiveApp, make_settings, started_app
from tests.speak.jobs.test_jobs_embedded import JOE, SPEAK, STORY, submit, wait_for


async def submit_as_tenant_b(app: LiveApp) -> str:
    body = {"text": STORY, "voice_id": JOE, "mode": "async"}
    answer = await app.client.post(SPEAK, json=body, headers=app.auth(app.tenancy.member_b))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


async def test_a_tenant_with_a_backlog_takes_turns_with_one_that_just_arrived(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, jobs=JobSettings(concurrency=1))
    async with started_app(settings, engines) as app:
        pipeline = app.app.state.speak.jobs.runtime.pipeline
        speak = pipeline.speak_segment
        started: list[str] = []
        first_started, gate = asyncio.Event(), asyncio.Event()

        async def note_starts(index: int, *args: Any, lane: str, **kwargs: Any) -> Any:
            if index == 0:
                started.append(lane)
                first_started.set()
            await gate.wait()
            return await speak(index, *args, lane=lane, **kwargs)

        monkeypatch.setattr(pipeline, "speak_segment", note_starts)
        backlog = [(await submit(app)).json()["id"] for _ in range(3)]
        await asyncio.wait_for(first_started.wait(), 30)
        newcomer = await submit_as_tenant_b(app)
        gate.set()
        for job_id in backlog:
            await wait_for(app, job_id, {"succeeded"})
        await wait_for(app, newcomer, {"succeeded"}, key=app.tenancy.member_b)
    assert started == [backlog[0], newcomer, backlog[1], backlog[2]]
