"""A job is never failed because the inference pool is busy or stopping: its segment
waits in a full queue, and a process stopping under it leaves it for a successor."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from scaispeak.settings import EngineSettings
from scaispeak.speak.jobs import queue as job_queue
from scaispeak.speak.jobs.models import JobState
from scaispeak.speak.synthesis.inference import inference_pool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from tests.conftest import LiveApp
from tests.speak.jobs.support import checkpoints_left, expire_lease_and_sweep, job_row
from tests.speak.jobs.test_jobs_embedded import submit, wait_for
from tests.speak.synthesis.test_inference import until

FINAL = {"succeeded", "failed", "cancelled"}

SegmentHook = Callable[[], Awaitable[None]]


def before_second_segment(
    monkeypatch: pytest.MonkeyPatch, pipeline: SynthesisPipeline, hook: SegmentHook
) -> None:
    """Run ``hook`` once, when the job's first segment is spoken and checkpointed."""
    speak_segment = pipeline.speak_segment
    hooks = [hook]

    async def hooked(index: int, *args: Any, **kwargs: Any) -> Any:
        if index == 1 and hooks:
            await hooks.pop()()
        return await speak_segment(index, *args, **kwargs)

    monkeypatch.setattr(pipeline, "speak_segment", hooked)


async def test_a_job_waits_out_a_full_inference_queue_and_keeps_its_progress(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    pipeline = app.app.state.speak.jobs.runtime.pipeline
    pool = pipeline.pool
    monkeypatch.setattr(pool, "max_queued", 1)
    streams_done = threading.Event()
    streams: list[asyncio.Task[bool]] = []
    queue_full = asyncio.Event()

    async def streams_fill_the_queue() -> None:
        # One stream's long segment has the unreserved thread, another's waits for it.
        streams.append(asyncio.create_task(pool.run(streams_done.wait, 60, lane="stream-a")))
        await until(lambda: pool.running == 1)
        streams.append(asyncio.create_task(pool.run(streams_done.wait, 60, lane="stream-b")))
        await until(lambda: pool.queued == 1)
        queue_full.set()

    before_second_segment(monkeypatch, pipeline, streams_fill_the_queue)
    job = (await submit(app)).json()
    try:
        await asyncio.wait_for(queue_full.wait(), 60)
        await until(lambda: pool.queued == 2)  # the job's segment waits behind the streams'
    finally:
        streams_done.set()
    done = await wait_for(app, job["id"], FINAL, seconds=60)
    assert done["state"] == "succeeded", done
    assert (await job_row(app, job["id"])).attempts == 1
    assert all(await asyncio.gather(*streams))


async def test_a_job_whose_process_stops_under_it_is_left_for_a_successor(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sqlite_app
    pipeline = app.app.state.speak.jobs.runtime.pipeline
    stopping_pool = pipeline.pool

    async def process_stops() -> None:
        await asyncio.to_thread(stopping_pool.shutdown)

    before_second_segment(monkeypatch, pipeline, process_stops)
    run_ended = asyncio.Event()
    run_job = job_queue.run_job

    async def noting_the_end(*args: Any) -> None:
        try:
            await run_job(*args)
        finally:
            run_ended.set()

    monkeypatch.setattr(job_queue, "run_job", noting_the_end)
    job = (await submit(app)).json()
    await asyncio.wait_for(run_ended.wait(), 60)
    row = await job_row(app, job["id"])
    assert (row.state, row.error, row.segments_done) == (JobState.running, "", 1)
    assert await checkpoints_left(app, job["id"], 3) == [0]

    # The next process (here, a fresh pool) resumes it from that checkpoint.
    monkeypatch.setattr(pipeline, "pool", inference_pool(EngineSettings(inference_threads=2)))
    try:
        await expire_lease_and_sweep(app, job["id"])
        done = await wait_for(app, job["id"], FINAL, seconds=60)
        assert done["state"] == "succeeded", done
    finally:
        pipeline.pool.shutdown()
