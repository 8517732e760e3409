"""Queue depth on /metrics: jobs queued and running, and how long the oldest waits."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from scaispeak.settings import JobSettings
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import LiveApp, make_settings, started_app
from tests.speak.jobs.test_jobs_embedded import submit, wait_for


def gauge(metrics: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert found, f"{name} is not on /metrics"
    return float(found.group(1))


async def test_metrics_count_queued_and_running_jobs(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, jobs=JobSettings(concurrency=1))
    async with started_app(settings, engines) as app:
        pipeline = app.app.state.speak.jobs.runtime.pipeline
        speak = pipeline.speak_segment
        first_started, gate = asyncio.Event(), asyncio.Event()

        async def hold(index: int, *args: Any, **kwargs: Any) -> Any:
            first_started.set()
            await gate.wait()
            return await speak(index, *args, **kwargs)

        monkeypatch.setattr(pipeline, "speak_segment", hold)
        jobs = [(await submit(app)).json()["id"] for _ in range(3)]
        await asyncio.wait_for(first_started.wait(), 30)
        await asyncio.sleep(0.2)  # the oldest queued job has waited a while

        held = (await app.client.get("/metrics")).text
        gate.set()
        for job_id in jobs:
            await wait_for(app, job_id, {"succeeded"})
        drained = (await app.client.get("/metrics")).text

    assert gauge(held, 'scaispeak_jobs{state="running"}') == 1
    assert gauge(held, 'scaispeak_jobs{state="queued"}') == 2
    assert 0.2 <= gauge(held, "scaispeak_jobs_oldest_queued_seconds") < 60
    assert gauge(drained, 'scaispeak_jobs{state="running"}') == 0
    assert gauge(drained, 'scaispeak_jobs{state="queued"}') == 0
    assert gauge(drained, "scaispeak_jobs_oldest_queued_seconds") == 0
    assert gauge(drained, "scaispeak_job_webhooks_pending") == 0


async def test_metrics_are_served_when_the_jobs_cannot_be_counted(live: LiveApp) -> None:
    gauges_db = live.app.state.platform.db

    def broken() -> None:
        raise ConnectionError("database down")

    original = gauges_db.sessions
    gauges_db.sessions = broken  # type: ignore[method-assign]
    try:
        answer = await live.client.get("/metrics")
    finally:
        gauges_db.sessions = original  # type: ignore[method-assign]
    assert answer.status_code == 200 and "scaispeak_http_request_seconds" in answer.text
