"""Who sees a job: a member only their own, a tenant admin every job of the tenant;
idempotency keys belong to the user who sent them (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event

from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem
from tests.speak.jobs.test_jobs_embedded import JOE, SPEAK, STORY, submit, wait_for

JOBS = "/v1/modules/scaispeak/jobs"


async def colleague_of_member_a(app: LiveApp) -> dict[str, str]:
    """A second member of tenant A: same tenant, different user."""
    root = app.auth(app.tenancy.superadmin)
    user = await app.client.post(
        f"/v1/tenants/{app.tenancy.tenant_a}/users",
        json={"email": f"colleague-{uuid.uuid4().hex[:6]}@acme.com", "role": "member"},
        headers=root,
    )
    key = await app.client.post(f"/v1/users/{user.json()['id']}/keys", json={}, headers=root)
    return app.auth(key.json()["secret"])


async def test_a_member_cannot_read_download_or_cancel_a_colleagues_job(live: LiveApp) -> None:
    owner = live.auth(live.tenancy.member_a)
    job = (await submit(live, text=STORY * 6)).json()
    colleague = await colleague_of_member_a(live)
    url = f"{JOBS}/{job['id']}"
    assert_problem(await live.client.get(url, headers=colleague), 404, "not_found")
    assert_problem(await live.client.get(f"{url}/audio", headers=colleague), 404, "not_found")
    assert_problem(await live.client.delete(url, headers=colleague), 404, "not_found")
    page = await live.client.get(JOBS, params={"before": job["id"]}, headers=colleague)
    assert_problem(page, 404, "not_found")
    listed = (await live.client.get(JOBS, headers=colleague)).json()
    assert job["id"] not in {j["id"] for j in listed["items"]}
    assert (await live.client.get(url, headers=owner)).json()["state"] != "cancelled"
    assert (await live.client.delete(url, headers=owner)).json()["state"] == "cancelled"


async def test_a_tenant_admin_sees_and_cancels_every_job_of_the_tenant(live: LiveApp) -> None:
    admin = live.auth(live.tenancy.admin_a)
    job = (await submit(live, text=STORY * 6)).json()
    url = f"{JOBS}/{job['id']}"
    assert (await live.client.get(url, headers=admin)).json()["id"] == job["id"]
    listed = (await live.client.get(JOBS, headers=admin)).json()
    assert job["id"] in {j["id"] for j in listed["items"]}
    assert (await live.client.delete(url, headers=admin)).json()["state"] == "cancelled"


async def test_idempotency_keys_belong_to_the_user_who_sent_them(live: LiveApp) -> None:
    mine = (await submit(live, key="order-7")).json()
    colleague = await colleague_of_member_a(live)
    same_body = {"text": STORY, "voice_id": JOE, "mode": "async"}
    theirs = await live.client.post(
        SPEAK, json=same_body, headers=colleague | {"Idempotency-Key": "order-7"}
    )
    assert theirs.status_code == 202, theirs.text
    assert theirs.json()["id"] != mine["id"] and "idempotent-replayed" not in theirs.headers
    other_body = same_body | {"text": "Something else entirely."}
    reused = await live.client.post(
        SPEAK, json=other_body, headers=colleague | {"Idempotency-Key": "order-7"}
    )
    assert_problem(reused, 409, "idempotency_key_reused")
    assert reused.json()["job_id"] == theirs.json()["id"] and mine["id"] not in reused.text


async def test_job_pages_end_without_a_cursor_to_an_empty_page(sqlite_app: LiveApp) -> None:
    member = sqlite_app.auth(sqlite_app.tenancy.member_a)
    made = [(await submit(sqlite_app, text="One short job.")).json()["id"] for _ in range(3)]
    whole = (await sqlite_app.client.get(f"{JOBS}?limit=3", headers=member)).json()
    assert [j["id"] for j in whole["items"]] == made[::-1] and whole["next_before"] is None
    first = (await sqlite_app.client.get(f"{JOBS}?limit=2", headers=member)).json()
    assert [j["id"] for j in first["items"]] == made[:0:-1]
    rest = await sqlite_app.client.get(
        f"{JOBS}?limit=2&before={first['next_before']}", headers=member
    )
    assert [j["id"] for j in rest.json()["items"]] == made[:1]
    assert rest.json()["next_before"] is None


async def test_a_job_listing_never_reads_the_jobs_texts(sqlite_app: LiveApp) -> None:
    """A job's text can be hundreds of thousands of characters and a page holds up to a
    hundred jobs: the listing shows none of it, so it must not load it either."""
    member = sqlite_app.auth(sqlite_app.tenancy.member_a)
    job = (await submit(sqlite_app, text="A job whose text stays in the database.")).json()
    # Ended first: its worker reads its text, on the same engine, at any moment.
    await wait_for(sqlite_app, job["id"], {"succeeded", "failed", "cancelled"})
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = sqlite_app.app.state.platform.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        listed = await sqlite_app.client.get(JOBS, headers=member)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert listed.status_code == 200 and listed.json()["items"]
    reads = [s for s in statements if "FROM synth_jobs" in s]
    assert reads and not [s for s in reads if "synth_jobs.text" in s]
