"""A worker against real PostgreSQL: its lease survives a failed renewal, its id fits
``lease_owner`` whatever the host name, and it never waits on synthesis or storage
inside an open transaction."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.storage.base import BlobStat, StorageUnavailable
from scaispeak.platform.storage.local import LocalBlobStore
from scaispeak.settings import JobSettings
from scaispeak.speak.jobs import lease, runner
from scaispeak.speak.jobs.assembly import segment_key
from scaispeak.speak.jobs.models import LEASE_OWNER_MAX, JobState, SynthJob
from scaispeak.speak.jobs.runner import run_job
from scaispeak.speak.jobs.service import cancel_jobs_of_voice
from scaispeak.wiring import job_worker_id
from tests.conftest import POSTGRES_ADMIN_URL
from tests.speak.jobs.stub_worker import StubPipeline, job_of, queued_job, stub_runtime

pytestmark = pytest.mark.postgres

# An EC2 private DNS name with a search domain: longer than lease_owner's 64 characters.
LONG_HOST = "ip-100-120-233-217.ap-southeast-2.compute.internal.corp.example.com"


def fail_first_session(monkeypatch: pytest.MonkeyPatch, db: Database) -> None:
    """The next session opened on ``db`` fails as a database failover would."""
    sessions = db.sessions
    failed = False

    def flaky() -> Any:
        nonlocal failed
        if not failed:
            failed = True
            raise OperationalError("UPDATE synth_jobs", {}, ConnectionResetError("reset"))
        return sessions()

    monkeypatch.setattr(db, "sessions", flaky)


async def test_the_heartbeat_outlives_a_failed_renewal(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await queued_job(pg_db)
    async with pg_db.sessions() as session:
        assert await lease.take(session, job_id, "w1", JobSettings(lease_s=1), utcnow())
    fail_first_session(monkeypatch, pg_db)
    heartbeat = asyncio.create_task(lease.keep(pg_db, job_id, "w1", lease_s=1))
    try:
        await asyncio.sleep(1.6)  # beats every 1/3 s: the first fails, the next renew
        assert not heartbeat.done(), heartbeat
        row = await job_of(pg_db, job_id)
        assert row.lease_until is not None and row.lease_until > utcnow(), row.lease_until
    finally:
        heartbeat.cancel()


async def test_the_heartbeat_stops_once_the_job_is_no_longer_ours(pg_db: Database) -> None:
    job_id = await queued_job(pg_db)
    async with pg_db.sessions() as session:
        assert await lease.take(session, job_id, "w1", JobSettings(lease_s=1), utcnow())
    heartbeat = asyncio.create_task(lease.keep(pg_db, job_id, "w1", lease_s=1))
    await cancel_jobs_of_voice(pg_db, (await job_of(pg_db, job_id)).voice_id)
    await asyncio.wait_for(heartbeat, 2)


async def test_a_long_host_name_makes_a_worker_id_that_still_claims_jobs(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: LONG_HOST)
    first, second = job_worker_id(), job_worker_id()
    job_id = await queued_job(pg_db)
    async with pg_db.sessions() as session:  # PostgreSQL refuses a value over 64 chars
        assert await lease.take(session, job_id, first, JobSettings(), utcnow())
    assert (await job_of(pg_db, job_id)).lease_owner == first
    assert first != second and len(first) == len(second) == LEASE_OWNER_MAX
    assert first.startswith("ip-100-120-233-217.ap-southeast-2.")
    assert f"-{os.getpid()}-" in first  # how an operator finds the process


class IdleTransactions:
    """Looks, when asked, for connections to the job database idle inside a transaction
    (holding a snapshot, locks and a pooled connection while nothing runs)."""

    def __init__(self, monitor: asyncpg.Connection, database: str) -> None:
        self.monitor = monitor
        self.database = database
        self.seen: list[str] = []

    async def look(self, moment: str) -> None:
        idle = await self.monitor.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> "
            "pg_backend_pid() AND state LIKE 'idle in transaction%'",
            self.database,
        )
        if idle:
            self.seen.append(moment)


@pytest.fixture
async def idle_transactions(pg_db: Database) -> AsyncIterator[IdleTransactions]:
    monitor = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        yield IdleTransactions(monitor, str(pg_db.engine.url.database))
    finally:
        await monitor.close()


class WatchedStore(LocalBlobStore):
    """Local storage that looks for idle transactions before every write and delete."""

    def __init__(self, root: Path, watch: IdleTransactions) -> None:
        super().__init__(root)
        self.watch = watch

    async def put_bytes(self, key: str, data: bytes) -> BlobStat:
        await self.watch.look(f"put {key}")
        return await super().put_bytes(key, data)

    async def put_file(self, key: str, path: Path) -> BlobStat:
        await self.watch.look(f"put {key}")
        return await super().put_file(key, path)

    async def delete(self, key: str) -> None:
        await self.watch.look(f"delete {key}")
        await super().delete(key)


async def test_a_worker_holds_no_transaction_open_while_it_speaks_or_stores(
    pg_db: Database, idle_transactions: IdleTransactions, tmp_path: Path
) -> None:
    async def look_before_speaking(index: int) -> None:
        await idle_transactions.look(f"segment {index}")

    storage = WatchedStore(tmp_path, idle_transactions)
    rt = stub_runtime(
        pg_db, storage, StubPipeline(look_before_speaking), JobSettings(), tmp_path / "scratch"
    )
    job_id = await queued_job(pg_db)
    await run_job(rt, job_id)
    assert (await job_of(pg_db, job_id)).state is JobState.succeeded
    assert idle_transactions.seen == []


async def test_a_worker_giving_up_a_job_holds_no_transaction_open_while_it_deletes_blobs(
    pg_db: Database, idle_transactions: IdleTransactions, tmp_path: Path
) -> None:
    settings = JobSettings()
    storage = WatchedStore(tmp_path, idle_transactions)
    rt = stub_runtime(pg_db, storage, StubPipeline(), settings, tmp_path / "scratch")
    job_id = await queued_job(pg_db, attempts=settings.max_attempts)  # every run died
    await run_job(rt, job_id)
    assert (await job_of(pg_db, job_id)).state is JobState.failed
    assert idle_transactions.seen == []


async def test_a_job_a_stopping_worker_was_running_is_handed_back_uncounted(
    pg_db: Database, tmp_path: Path
) -> None:
    """A graceful stop (a deploy) gives the job back at once; it used to sit out its
    lease and count as a crash, so three restarts could fail a long job for good."""
    storage = LocalBlobStore(tmp_path)
    on_the_second = asyncio.Event()

    async def hold_the_second_segment(index: int) -> None:
        if index == 1:
            on_the_second.set()
            await asyncio.Event().wait()  # until the stop cancels it

    stopping = stub_runtime(
        pg_db, storage, StubPipeline(hold_the_second_segment), JobSettings(), tmp_path / "scratch"
    )
    job_id = await queued_job(pg_db)
    run = asyncio.create_task(run_job(stopping, job_id))
    await asyncio.wait_for(on_the_second.wait(), 10)
    stopping.stopping = True  # as worker.stop_jobs does
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    row = await job_of(pg_db, job_id)
    assert row.state is JobState.running and row.lease_owner is None
    assert row.attempts == 0 and row.segments_done == 1 and row.last_kick_at is None
    assert row.lease_until is not None and row.lease_until <= utcnow()
    successor = stub_runtime(pg_db, storage, StubPipeline(), JobSettings(), tmp_path / "scratch")
    await run_job(successor, job_id)  # at once, not after lease_s
    row = await job_of(pg_db, job_id)
    assert row.state is JobState.succeeded and row.attempts == 1


async def test_a_stopping_worker_claims_no_further_job(pg_db: Database, tmp_path: Path) -> None:
    """Tasks waiting for a slot went on claiming after a stop began (the job just
    handed back, as often as not), and were neither waited for nor handed back: the
    job sat out its lease with its attempt counted (helper-99)."""
    stopping = stub_runtime(
        pg_db, LocalBlobStore(tmp_path), StubPipeline(), JobSettings(), tmp_path / "scratch"
    )
    stopping.stopping = True
    job_id = await queued_job(pg_db)
    async with pg_db.sessions() as session:  # kicked: its message is the one taken
        await session.execute(
            update(SynthJob).where(SynthJob.id == job_id).values(last_kick_at=utcnow())
        )
        await session.commit()
    await run_job(stopping, job_id)
    row = await job_of(pg_db, job_id)
    assert row.state is JobState.queued and row.attempts == 0 and row.lease_owner is None
    assert row.last_kick_at is None  # its message was taken: the next sweep sends another


class Deadlock(Exception):
    """What asyncpg raises for a transaction PostgreSQL chose to abort (SQLSTATE)."""

    sqlstate = "40P01"


class UnansweringStore(LocalBlobStore):
    """A blob store whose server is down for a moment (an S3 outage)."""

    async def put_bytes(self, key: str, data: bytes) -> BlobStat:
        raise StorageUnavailable("The blob store did not answer (test).")


async def test_a_storage_outage_leaves_the_job_for_a_retry_not_failed(
    pg_db: Database, tmp_path: Path
) -> None:
    rt = stub_runtime(
        pg_db, UnansweringStore(tmp_path), StubPipeline(), JobSettings(), tmp_path / "scratch"
    )
    job_id = await queued_job(pg_db)
    await run_job(rt, job_id)
    row = await job_of(pg_db, job_id)
    assert row.state is JobState.running and row.error == "" and row.attempts == 1
    assert row.lease_owner == rt.worker_id  # its lease lapses; a successor retries


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("UPDATE synth_jobs", {}, ConnectionResetError("reset")),
        DBAPIError("UPDATE synth_jobs", {}, Exception("closed"), connection_invalidated=True),
        DBAPIError("UPDATE synth_jobs", {}, Deadlock("deadlock detected")),
    ],
    ids=["connection-reset", "invalidated", "deadlock"],
)
async def test_a_database_outage_mid_job_leaves_it_for_a_retry_with_its_checkpoints(
    pg_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """A failover under a long job failed it for good and deleted its progress. One that
    outlasts the checkpoint's own retries leaves the job to a successor."""
    store = LocalBlobStore(tmp_path)
    monkeypatch.setattr(runner, "CHECKPOINT_BACKOFF_S", 0.0)
    job_id = await run_with_a_failing_checkpoint(
        pg_db, store, tmp_path, monkeypatch, error, failures=runner.CHECKPOINT_TRIES
    )
    row = await job_of(pg_db, job_id)
    assert row.state is JobState.running and row.error == "" and row.attempts == 1
    assert row.segments_done == 1 and row.lease_owner  # its lease lapses, a successor resumes
    assert await store.exists(segment_key(job_id, 0))  # the progress is kept


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: synth_jobs")),
        InterfaceError("SELECT", {}, Exception("the number of query arguments cannot exceed")),
    ],
    ids=["missing-table", "too-many-parameters"],
)
async def test_a_database_error_that_is_a_bug_still_fails_the_job(
    pg_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """Retrying a bug repeats it: the job fails now, with its cause, not after three
    lapsed leases as a 'crashed worker'."""
    store = LocalBlobStore(tmp_path)
    job_id = await run_with_a_failing_checkpoint(pg_db, store, tmp_path, monkeypatch, error)
    row = await job_of(pg_db, job_id)
    assert row.state is JobState.failed and type(error).__name__ in row.error


async def test_a_database_blip_mid_job_is_ridden_out_in_place(
    pg_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dropped connection at one checkpoint cost the run its lease (a minute) and one
    of the job's attempts: the checkpoint is written again, and the job finishes."""
    store = LocalBlobStore(tmp_path)
    monkeypatch.setattr(runner, "CHECKPOINT_BACKOFF_S", 0.0)
    blip = DBAPIError("UPDATE synth_jobs", {}, Exception("closed"), connection_invalidated=True)
    job_id = await run_with_a_failing_checkpoint(pg_db, store, tmp_path, monkeypatch, blip)
    row = await job_of(pg_db, job_id)
    assert row.state is JobState.succeeded and row.attempts == 1
    assert row.segments_done == 3 and row.characters_done == row.characters_total


async def run_with_a_failing_checkpoint(
    db: Database,
    store: LocalBlobStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    failures: int = 1,
) -> str:
    """Run a three-segment job whose second checkpoint raises ``error``, ``failures``
    times in a row."""
    rt = stub_runtime(db, store, StubPipeline(), JobSettings(), tmp_path / "scratch")
    job_id = await queued_job(db)
    checkpoint, calls = lease.checkpoint, []

    async def fails_at_the_second(*args: Any, **kwargs: Any) -> bool:
        calls.append(1)
        if 2 <= len(calls) < 2 + failures:
            raise error
        return await checkpoint(*args, **kwargs)

    monkeypatch.setattr(lease, "checkpoint", fails_at_the_second)
    await run_job(rt, job_id)
    return job_id


async def test_a_job_claimed_after_a_slow_give_up_gets_a_whole_lease(
    pg_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Giving up a job deletes its blobs first, slow when storage is struggling (which is
    often why its runs died); the next job's lease starts after that, not before."""
    settings = JobSettings(lease_s=1)
    rt = stub_runtime(
        pg_db, LocalBlobStore(tmp_path), StubPipeline(), settings, tmp_path / "scratch"
    )
    exhausted = await queued_job(pg_db, attempts=settings.max_attempts)
    waiting = await queued_job(pg_db)

    async def slow_discard(*_: Any) -> None:
        await asyncio.sleep(1.5)  # longer than the lease

    monkeypatch.setattr(runner, "discard_job_blobs", slow_discard)
    async with pg_db.sessions() as session:
        claimed = await runner.claim(session, rt, exhausted)
    assert claimed is not None and claimed.id == waiting
    assert (await job_of(pg_db, exhausted)).state is JobState.failed
    row = await job_of(pg_db, waiting)
    assert row.lease_until is not None and row.lease_until > utcnow()


async def test_a_message_for_a_job_this_database_never_held_is_an_error_in_the_log(
    pg_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker left on its own default SQLite file took the API's messages, found no
    such jobs and said nothing, while the jobs waited on the API's database."""
    rt = stub_runtime(pg_db, LocalBlobStore(tmp_path), StubPipeline(), JobSettings(), tmp_path)
    with caplog.at_level("ERROR", logger=runner.__name__):
        async with pg_db.sessions() as session:
            assert await runner.claim(session, rt, "job_from_another_database") is None
    assert "not in this worker's database" in caplog.text


@pytest.mark.parametrize("ended_as", [JobState.succeeded, JobState.running])
async def test_a_stalled_workers_late_checkpoint_is_deleted_only_if_the_job_ended(
    pg_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ended_as: JobState
) -> None:
    """A worker that stalls while a successor takes the job over and finishes it woke
    and stored a segment after the successor had swept them: nothing deleted it. A job
    the successor is still running keeps it (the successor may have stored it)."""
    store = LocalBlobStore(tmp_path)
    rt = stub_runtime(pg_db, store, StubPipeline(), JobSettings(), tmp_path / "scratch")
    job_id = await queued_job(pg_db)
    checkpoint = lease.checkpoint

    async def taken_over_meanwhile(*args: Any, **kwargs: Any) -> bool:
        async with pg_db.sessions() as session:  # what the successor did while we slept
            await session.execute(
                update(SynthJob)
                .where(SynthJob.id == job_id)
                .values(state=ended_as, lease_owner="successor")
            )
            await session.commit()
        return await checkpoint(*args, **kwargs)

    monkeypatch.setattr(lease, "checkpoint", taken_over_meanwhile)
    await run_job(rt, job_id)
    late = await store.exists(segment_key(job_id, 0))
    assert late is (ended_as is JobState.running)


async def test_a_start_frees_only_the_jobs_of_dead_processes_of_this_machine(
    pg_db: Database,
) -> None:
    """Every start expired every running job's lease: a second ``serve`` sharing the
    database made the first's jobs run twice (helper-63)."""
    host = socket.gethostname()
    ended = await asyncio.create_subprocess_exec("true")
    await ended.wait()
    alive = await asyncio.create_subprocess_exec("sleep", "30")
    try:
        owners = {
            "crashed here": f"{host}-{ended.pid}-aaaaaaaa",
            "our former self (pid 1 in a container)": f"{host}-{os.getpid()}-bbbbbbbb",
            "another serve here": f"{host}-{alive.pid}-cccccccc",
            "another machine": f"{host}x-{ended.pid}-dddddddd",
        }
        jobs = {}
        for name, owner in owners.items():
            jobs[name] = await queued_job(pg_db)
            async with pg_db.sessions() as session:
                await session.execute(
                    update(SynthJob)
                    .where(SynthJob.id == jobs[name])
                    .values(
                        state=JobState.running,
                        lease_owner=owner,
                        lease_until=utcnow() + timedelta(minutes=5),
                    )
                )
                await session.commit()
        freed = await lease.expire_leases_of_dead_processes(pg_db)
    finally:
        alive.kill()
        await alive.wait()
    mine = set(jobs.values())
    assert {job for job in freed if job in mine} == {
        jobs["crashed here"],
        jobs["our former self (pid 1 in a container)"],
    }
