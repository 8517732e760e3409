"""Handing jobs to the queue: workers on a real Redis stream share a burst of jobs, and a
submit whose queue is unreachable still answers 202 and leaves the job to the sweeper."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import redis.asyncio as aredis
import redis.exceptions as redis_errors

from scaispeak.settings import JobSettings, Settings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs import queue as job_queue
from scaispeak.speak.jobs.queue import JobQueue, sweep_once
from scaispeak.speak.jobs.runtime import JobRuntime
from tests.conftest import LiveApp, make_settings, started_app
from tests.speak.jobs.support import job_row
from tests.speak.jobs.test_jobs_embedded import submit, wait_for

JOB_S = 0.4
DEAD = "dead-worker"


class StreamWatch:
    """Runs in place of a job: notes which worker runs it, and the most messages a live
    consumer of the group held unacknowledged when a job started."""

    def __init__(self, redis: aredis.Redis, settings: Settings, jobs: int) -> None:
        self.redis = redis
        self.stream = settings.jobs.queue_name
        self.group = f"{settings.jobs.queue_name}-workers"
        self.jobs = jobs
        self.ran_by: list[str] = []
        self.most_held = 0
        self.all_ran = asyncio.Event()

    async def run_job(self, rt: JobRuntime, _job_id: str) -> None:
        self.ran_by.append(rt.worker_id)
        self.most_held = max([self.most_held, *await self.held_by_live_consumers()])
        await asyncio.sleep(JOB_S)
        if len(self.ran_by) == self.jobs:
            self.all_ran.set()

    async def until_all_ran_and_acknowledged(self) -> None:
        """Stopping a worker before its last acknowledgement would fail that ack."""
        await asyncio.wait_for(self.all_ran.wait(), 30)
        for _ in range(100):
            if not await self.held_by_live_consumers():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the workers never acknowledged their last jobs")

    async def held(self) -> dict[str, int]:
        summary = await self.redis.xpending(self.stream, self.group)
        return {c["name"].decode(): int(c["pending"]) for c in summary["consumers"]}

    async def held_by_live_consumers(self) -> list[int]:
        return [count for name, count in (await self.held()).items() if name != DEAD]


@pytest.fixture
async def stream_settings(redis_url: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """A stream of its own, and workers that run one job at a time."""
    jobs = JobSettings(queue_name=f"scaispeak-test-{uuid.uuid4().hex[:8]}", concurrency=1)
    settings = make_settings(tmp_path, redis_url=redis_url, jobs=jobs)
    yield settings
    redis = aredis.from_url(redis_url)
    await redis.delete(jobs.queue_name)
    await redis.aclose()


@asynccontextmanager
async def stream_of(settings: Settings, jobs: int) -> AsyncIterator[tuple[StreamWatch, JobQueue]]:
    """A watch that runs in place of jobs, and the API side's queue to kick them with."""
    redis = aredis.from_url(str(settings.redis_url))
    api = JobQueue(settings, None)
    await api.start()  # creates the consumer group
    try:
        yield StreamWatch(redis, settings, jobs), api
    finally:
        await api.stop()
        await redis.aclose()


@asynccontextmanager
async def workers(settings: Settings, *names: str) -> AsyncIterator[None]:
    queues = [JobQueue(settings, cast(JobRuntime, SimpleNamespace(worker_id=n))) for n in names]
    try:
        for queue in queues:
            await queue.start()
            await queue.start_receiving()
        yield
    finally:
        for queue in queues:
            await queue.stop()


async def test_a_worker_reads_only_the_jobs_it_can_start(
    stream_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with stream_of(stream_settings, jobs=6) as (watch, api):
        monkeypatch.setattr(job_queue, "run_job", watch.run_job)
        async with workers(stream_settings, "A", "B"):
            for index in range(6):
                await api.kick(f"job_{index}")
            await watch.until_all_ran_and_acknowledged()
    # Each worker runs one job at a time, so it may hold one message, no more: one
    # holding a burst runs it alone while the other worker idles.
    assert watch.most_held == 1
    assert set(Counter(watch.ran_by)) == {"A", "B"}  # both worked, whatever their pace


async def test_a_worker_reclaims_a_dead_workers_messages_one_at_a_time(
    stream_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A message pending 0.1 s counts as its worker's dead (shorter than a job here).
    jobs = stream_settings.jobs.model_copy(update={"redelivery_idle_ms": 100})
    settings = stream_settings.model_copy(update={"jobs": jobs})
    async with stream_of(settings, jobs=2) as (watch, api):
        monkeypatch.setattr(job_queue, "run_job", watch.run_job)
        for index in range(4):
            await api.kick(f"job_{index}")
        # A worker read four messages, then died: they stay pending under its name.
        taken = {watch.stream: ">"}
        await watch.redis.xreadgroup(watch.group, DEAD, taken, count=4)  # type: ignore[arg-type]
        await asyncio.sleep(0.2)  # longer than redelivery_idle_ms
        async with workers(settings, "A"):
            # taskiq-redis reclaims idle messages only after reading a new one.
            await api.kick("job_4")
            await watch.until_all_ran_and_acknowledged()
        left = (await watch.held()).get(DEAD, 0)
    # The new job, then one reclaimed message. The other three wait for later reads;
    # their jobs do not wait on them: the sweeper re-kicks a dead worker's jobs.
    assert watch.most_held == 1
    assert watch.ran_by == ["A", "A"] and left == 3


async def test_a_worker_reads_again_after_redis_lost_its_stream_and_group(
    stream_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a worker's start made the consumer group: after Redis lost its data (a
    restart without persistence, an empty replica), every read failed with NOGROUP and
    the worker ran no job again until restarted, its /readyz still 200 (helper-84)."""
    async with stream_of(stream_settings, jobs=1) as (watch, api):
        monkeypatch.setattr(job_queue, "run_job", watch.run_job)
        async with workers(stream_settings, "A"):
            await watch.redis.delete(watch.stream)  # the stream and its group are gone
            await asyncio.sleep(0.1)
            await api.kick("job_after_the_loss")
            await watch.until_all_ran_and_acknowledged()
    assert watch.ran_by == ["A"]


@pytest.fixture
async def app_without_sweeps(tmp_path: Path, engines: EngineRegistry) -> AsyncIterator[LiveApp]:
    """A SQLite app whose sweeper looks once, at start: only the test sweeps after that."""
    settings = make_settings(tmp_path, jobs=JobSettings(sweep_interval_s=3600))
    async with started_app(settings, engines) as live_app:
        yield live_app


async def submitted_while_unreachable(
    app: LiveApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> list[httpx.Response]:
    """``count`` submits answered while the queue cannot be reached (nothing listens on
    port 1: every kick fails to connect, as with Redis down)."""
    speak = app.app.state.speak
    working = speak.jobs
    unreachable = JobQueue(make_settings(tmp_path, redis_url="redis://127.0.0.1:1/0"), None)
    monkeypatch.setattr(speak, "jobs", unreachable)
    try:
        return [await submit(app) for _ in range(count)]
    finally:
        monkeypatch.setattr(speak, "jobs", working)
        await unreachable.broker.shutdown()


async def test_a_submit_while_the_queue_is_unreachable_answers_202_and_the_sweeper_queues_it(
    app_without_sweeps: LiveApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_without_sweeps
    [accepted] = await submitted_while_unreachable(app, tmp_path, monkeypatch, 1)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    row = await job_row(app, job_id)
    assert row.state.value == "queued" and row.last_kick_at is None  # never handed over
    assert await sweep_once(app.app.state.platform.db, app.app.state.speak.jobs) == [job_id]
    done = await wait_for(app, job_id, {"succeeded", "failed"}, seconds=60)
    assert done["state"] == "succeeded", done


async def test_a_backlog_is_swept_in_batches_oldest_first(
    app_without_sweeps: LiveApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One statement naming every stuck job broke the sweeper past 32,767 of them."""
    app = app_without_sweeps
    answers = await submitted_while_unreachable(app, tmp_path, monkeypatch, 5)
    backlog = [answer.json()["id"] for answer in answers]  # never handed over
    kicked: list[str] = []

    async def kick(job_id: str) -> None:
        kicked.append(job_id)

    recorder = SimpleNamespace(settings=app.app.state.speak.jobs.settings, kick=kick)
    monkeypatch.setattr(job_queue, "SWEEP_BATCH", 2)
    db = app.app.state.platform.db
    passes = [await sweep_once(db, cast(JobQueue, recorder)) for _ in range(3)]
    assert passes == [backlog[:2], backlog[2:4], backlog[4:]]
    assert kicked == backlog


async def test_the_stream_is_trimmed_to_its_cap(stream_settings: Settings) -> None:
    """Acknowledged messages stay in a Redis stream until trimmed: uncapped, it would
    grow by one message per job for as long as the service runs."""
    jobs = stream_settings.jobs.model_copy(update={"stream_maxlen": 1000})
    settings = stream_settings.model_copy(update={"jobs": jobs})
    async with stream_of(settings, jobs=0) as (watch, api):
        # In rounds: 2,500 kicks at once opened as many Redis connections, and on a
        # loaded CI machine one timed out connecting (2 s) before any was trimmed.
        for first in range(0, 2500, 100):
            await asyncio.gather(*(api.kick(f"job_{i}") for i in range(first, first + 100)))
        kept = await watch.redis.xlen(watch.stream)
    # Trimming is approximate: whole blocks of up to 100 messages (stream-node-max-entries).
    assert 1000 <= kept <= 1100


async def consumers(watch: StreamWatch) -> set[str]:
    found = await watch.redis.xinfo_consumers(watch.stream, watch.group)
    return {c["name"].decode() for c in found}


async def test_gone_workers_consumers_are_forgotten_but_never_one_holding_messages(
    stream_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker process joins the group under a name of its own; Redis kept every
    one that ever joined, one more per restart."""
    async with stream_of(stream_settings, jobs=1) as (watch, api):
        monkeypatch.setattr(job_queue, "run_job", watch.run_job)
        await api.kick("job_0")
        taken = {watch.stream: ">"}
        await watch.redis.xreadgroup(watch.group, DEAD, taken, count=1)  # type: ignore[arg-type]
        await watch.redis.xgroup_createconsumer(watch.stream, watch.group, "stopped")
        await asyncio.sleep(0.05)
        assert await api.forget_consumers(idle_ms=60_000) == []  # both were just seen
        assert await consumers(watch) == {DEAD, "stopped"}

        monkeypatch.setattr(job_queue, "IDLE_CONSUMER_MS", 10)
        async with workers(stream_settings, "A"):  # a worker starting tidies up
            assert "stopped" not in await consumers(watch)
            assert DEAD in await consumers(watch)  # its message is still its own
            await api.kick("job_1")
            await watch.until_all_ran_and_acknowledged()
            assert len(await consumers(watch)) == 2  # the worker joined
        # ... and one stopping removes itself.
        assert await consumers(watch) == {DEAD}


async def test_an_embedded_queue_keeps_one_waiting_task_per_job_however_often_it_is_kicked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each sweep re-kicks the jobs queued for long; in embedded mode every kick became
    a task waiting for a slot, a pile growing for as long as the backlog lasted."""
    settings = make_settings(tmp_path, jobs=JobSettings(concurrency=1))
    queue = JobQueue(settings, cast(JobRuntime, SimpleNamespace(worker_id="embedded")))
    ran: list[str] = []
    release = asyncio.Event()

    async def run_job(_rt: JobRuntime, job_id: str) -> None:
        ran.append(job_id)
        await release.wait()

    monkeypatch.setattr(job_queue, "run_job", run_job)
    await queue.start()
    try:
        await queue.kick("job_busy")  # takes the only slot
        for _ in range(3):  # three sweeps' worth of re-kicks of two waiting jobs
            await queue.kick("job_a")
            await queue.kick("job_b")
        await asyncio.sleep(0.2)
        release.set()
        await asyncio.sleep(0.2)
    finally:
        await queue.stop()
    assert Counter(ran) == {"job_busy": 1, "job_a": 1, "job_b": 1}


async def test_a_worker_waits_between_attempts_while_redis_is_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """taskiq restarts a failed receiver at once: a worker spun a core and logged
    thousands of tracebacks a second (6,629 in two seconds, measured)."""
    settings = make_settings(tmp_path, redis_url="redis://127.0.0.1:1/0")  # nothing there
    queue = JobQueue(settings, cast(JobRuntime, SimpleNamespace(worker_id="w")))
    with caplog.at_level(logging.WARNING, logger="taskiq"):
        await queue.start_receiving()
        await asyncio.sleep(2)
        await queue.stop()
    restarts = [r for r in caplog.records if "while listening" in r.getMessage()]
    assert 1 <= len(restarts) <= 5


async def test_a_worker_keeps_its_concurrency_after_its_receiver_restarts(
    stream_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """taskiq starts a new receiver, with slots of its own, when a read fails: after one
    Redis blip a worker of concurrency 2 ran 3 jobs at once (helper-63), and read more
    messages than it had free slots, hoarding them from other workers (helper-65)."""
    jobs = stream_settings.jobs.model_copy(update={"concurrency": 2})
    settings = stream_settings.model_copy(update={"jobs": jobs})
    running, most, started = 0, 0, []
    release: dict[str, asyncio.Event] = {}

    async def run_job(_rt: JobRuntime, job_id: str) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        started.append(job_id)
        try:
            await release.setdefault(job_id, asyncio.Event()).wait()
        finally:
            running -= 1

    monkeypatch.setattr(job_queue, "run_job", run_job)
    blip = asyncio.Event()
    read = aredis.Redis.xreadgroup

    async def read_unless_a_blip(self: aredis.Redis, *args: Any, **kwargs: Any) -> Any:
        if blip.is_set():
            blip.clear()
            raise redis_errors.ConnectionError("Connection reset by peer")
        return await read(self, *args, **kwargs)

    monkeypatch.setattr(aredis.Redis, "xreadgroup", read_unless_a_blip)
    async with stream_of(settings, jobs=5) as (watch, api):
        queue = JobQueue(settings, cast(JobRuntime, SimpleNamespace(worker_id="A")))
        await queue.start()
        await queue.start_receiving()
        try:
            await api.kick("job_1")
            await _until(lambda: started == ["job_1"])
            # With a slot free the worker reads on; a Redis blip fails that read, and
            # taskiq starts another receiver while job_1 runs on.
            blip.set()
            await _until(lambda: not blip.is_set())
            await asyncio.sleep(1.0)  # past the first back-off (0.5 s)
            await api.kick("job_2")
            await api.kick("job_3")
            await _until(lambda: len(started) >= 2)
            await asyncio.sleep(1.0)
            assert len(started) == 2, "two slots, two jobs running"
            assert (await watch.held()).get(queue._consumer_name(), 0) <= 2, "job_3 unread"
            for job in ("job_1", "job_2"):
                release.setdefault(job, asyncio.Event()).set()
            await _until(lambda: len(started) == 3)
            # Both slots still there once the old receiver's jobs are done.
            await api.kick("job_4")
            await _until(lambda: len(started) == 4)
            assert running == 2
        finally:
            for event in release.values():
                event.set()
            for job in ("job_3", "job_4", "job_5"):
                release.setdefault(job, asyncio.Event()).set()
            await queue.stop()
    assert most == 2


async def _until(condition: Callable[[], bool], seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")
