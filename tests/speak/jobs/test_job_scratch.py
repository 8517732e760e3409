"""A job joins its audio in the data dir's scratch folder, and a worker starting up
removes what a worker killed mid-join left there."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs.assembly import STALE_SCRATCH_S
from tests.conftest import make_settings, started_app
from tests.speak.jobs.test_jobs_embedded import submit, wait_for


async def test_joins_happen_in_scratch_and_a_killed_joins_file_is_removed_at_start(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    scratch = settings.data_dir / "scratch" / "jobs"
    scratch.mkdir(parents=True)
    left_behind = scratch / "job_killed-abc.mp3"
    left_behind.write_bytes(b"\0" * 1024)
    stale = time.time() - STALE_SCRATCH_S - 60
    os.utime(left_behind, (stale, stale))
    in_flight = scratch / "job_other_worker-def.mp3"  # another process's join, just written
    in_flight.write_bytes(b"\0" * 1024)

    async with started_app(settings, engines) as app:
        assert not left_behind.exists()
        assert in_flight.exists()
        storage = app.app.state.speak.jobs.runtime.storage
        put_file = storage.put_file
        joined_in: list[Path] = []

        async def note_where(key: str, path: Path) -> Any:
            joined_in.append(path.parent)
            return await put_file(key, path)

        monkeypatch.setattr(storage, "put_file", note_where)
        job = (await submit(app)).json()
        await wait_for(app, job["id"], {"succeeded"})

    assert joined_in == [scratch]
    assert sorted(scratch.iterdir()) == [in_flight]  # the job's own file is gone too
