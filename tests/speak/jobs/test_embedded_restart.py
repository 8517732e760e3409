"""Embedded mode keeps a queued job's message in memory: a restart loses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from scaispeak.platform.db import Database, utcnow
from scaispeak.platform.migrate import upgrade_to_head
from scaispeak.platform.storage.local import LocalBlobStore
from scaispeak.settings import JobSettings
from scaispeak.speak.jobs.models import JobState, SynthJob
from scaispeak.speak.jobs.queue import JobQueue
from scaispeak.speak.jobs.worker import start_jobs, stop_jobs
from tests.conftest import make_settings
from tests.speak.jobs.stub_worker import StubPipeline, job_of, queued_job, stub_runtime
from tests.support.polling import until


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/jobs.db")
    await upgrade_to_head(database.engine)
    yield database
    await database.dispose()


async def test_a_restart_runs_the_queued_jobs_whose_messages_died_with_the_process(
    db: Database, tmp_path: Path
) -> None:
    """After a kill -9, 54 queued jobs sat idle for two minutes: noted as kicked, the
    sweep took their messages for pending (helper-99)."""
    job_id = await queued_job(db)
    async with db.sessions() as session:  # kicked by the process that died
        await session.execute(
            update(SynthJob).where(SynthJob.id == job_id).values(last_kick_at=utcnow())
        )
        await session.commit()
    settings = make_settings(tmp_path)
    assert settings.redis_url is None and settings.jobs.requeue_after_s >= 60
    runtime = stub_runtime(
        db, LocalBlobStore(tmp_path / "blobs"), StubPipeline(), JobSettings(), tmp_path / "scr"
    )
    speak: Any = SimpleNamespace(jobs=JobQueue(settings, runtime))

    sweeper = await start_jobs(db, speak)  # the restart
    try:

        async def done() -> bool:
            return (await job_of(db, job_id)).state is JobState.succeeded

        await until(done, "the queued job to run", 20, every=0.05)
    finally:
        await stop_jobs(speak, sweeper)
