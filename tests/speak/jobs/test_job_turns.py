"""Tenants take turns: a job submitted behind another tenant's backlog runs next, not
after the whole backlog."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from scaispeak.settings import JobSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.synthesis.inference import Lane
from tests.conftest import LiveApp, make_settings, started_app
from tests.speak.jobs.test_jobs_embedded import JOE, SPEAK, STORY, submit, wait_for
from tests.support.polling import until


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

        async def note_starts(index: int, *args: Any, lane: Lane, **kwargs: Any) -> Any:
            if index == 0:
                started.append(str(lane.key))  # the job's id
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


async def test_a_tenant_already_running_a_job_waits_for_one_running_none(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tenant A's long job started first; B's job started later and has ended. With a
    slot free and a job of each tenant queued, B's runs: A already holds a slot."""
    settings = make_settings(tmp_path, jobs=JobSettings(concurrency=2))
    async with started_app(settings, engines) as app:
        pipeline = app.app.state.speak.jobs.runtime.pipeline
        speak = pipeline.speak_segment
        started: list[str] = []
        gates: dict[str, asyncio.Event] = {}

        async def hold_each_job(index: int, *args: Any, lane: Lane, **kwargs: Any) -> Any:
            if index == 0:
                started.append(str(lane.key))  # the job's id
            await gates.setdefault(str(lane.key), asyncio.Event()).wait()
            return await speak(index, *args, lane=lane, **kwargs)

        async def have_started(count: int) -> bool:
            return len(started) >= count

        monkeypatch.setattr(pipeline, "speak_segment", hold_each_job)
        long_job = (await submit(app)).json()["id"]
        await until(lambda: have_started(1), "the long job to start", 30)
        b_first = await submit_as_tenant_b(app)
        await until(lambda: have_started(2), "B's first job to start", 30)
        a_next = (await submit(app)).json()["id"]
        b_next = await submit_as_tenant_b(app)
        gates.setdefault(b_first, asyncio.Event()).set()
        await wait_for(app, b_first, {"succeeded"}, key=app.tenancy.member_b)
        await until(lambda: have_started(3), "a third job to start", 30)
        for job_id in (long_job, a_next, b_next):
            gates.setdefault(job_id, asyncio.Event()).set()
        for job_id in (long_job, a_next):
            await wait_for(app, job_id, {"succeeded"})
        await wait_for(app, b_next, {"succeeded"}, key=app.tenancy.member_b)
    assert started == [long_job, b_first, b_next, a_next]
