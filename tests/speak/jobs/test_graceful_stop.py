"""A server that stops under a running job hands it back before it is done stopping."""

from __future__ import annotations

from pathlib import Path

from scaispeak.platform.db import Database
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs.models import SynthJob
from tests.conftest import make_settings, started_app
from tests.speak.jobs.test_jobs_embedded import STORY, submit, wait_for
from tests.support.polling import until


async def test_a_job_running_at_a_stop_is_handed_back_before_the_stop_ends(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    """The stop shut the inference pool and closed the database under the running job,
    whose hand-back then raced the exit: undone, the job sat out its lease and its run
    counted as a crash."""
    settings = make_settings(tmp_path)
    async with started_app(settings, engines) as live:
        runtime = live.app.state.speak.jobs.runtime
        job = (await submit(live, text=STORY * 6)).json()
        await wait_for(live, job["id"], {"running"})
        await until(lambda: bool(runtime.running), "the job is running", 30)
    assert not runtime.running  # every job ended with the stop, not after it
    db = Database(settings.resolved_database_url)
    try:
        async with db.sessions() as session:
            row = await session.get(SynthJob, job["id"])
    finally:
        await db.dispose()
    assert row is not None and row.lease_owner is None and row.attempts == 0
