"""Asking for a job's audio too early: when to come back, and when not to."""

from __future__ import annotations

from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem
from tests.speak.jobs.test_jobs_embedded import STORY, submit

JOBS = "/v1/modules/scaispeak/jobs"


async def test_audio_of_a_job_at_work_is_409_with_retry_after_and_of_a_cancelled_one_without(
    live: LiveApp,
) -> None:
    owner = live.auth(live.tenancy.member_a)
    job = (await submit(live, text=STORY * 6)).json()
    url = f"{JOBS}/{job['id']}"
    early = await live.client.get(f"{url}/audio", headers=owner)
    assert_problem(early, 409, "job_not_finished")
    assert early.headers["Retry-After"] == "2"
    assert (await live.client.delete(url, headers=owner)).json()["state"] == "cancelled"
    never = await live.client.get(f"{url}/audio", headers=owner)
    assert_problem(never, 409, "job_not_finished")
    assert "Retry-After" not in never.headers
    assert "has no audio" in never.json()["detail"]
