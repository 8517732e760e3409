"""A job's webhook event is stored with its outcome: a process that stops before
delivering it leaves it to the next one, two processes never send the same attempt,
and the job says how delivery went."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import update

from scaispeak.platform.db import utcnow
from scaispeak.settings import JobSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs import outbox
from scaispeak.speak.jobs.models import SynthJob
from scaispeak.speak.jobs.service import cancel_jobs_of_voice
from scaispeak.speak.jobs.webhooks import SIGNATURE_HEADER, Sent, verify
from tests.conftest import LiveApp, make_settings, started_app
from tests.speak.jobs.support import job_row, secret_of
from tests.speak.jobs.test_jobs_embedded import submit, wait_for
from tests.support.polling import until
from tests.support.server import ServerThread

SHORT = "The lighthouse keeper climbed the stairs at dusk."


@dataclass
class Receiver:
    """A webhook receiver on a loopback port that answers 500 until ``accept`` is set."""

    accept: threading.Event = field(default_factory=threading.Event)
    calls: list[tuple[bytes, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> FastAPI:
        hook = FastAPI()

        @hook.post("/hook")
        async def take(request: Request) -> Response:
            status = 200 if self.accept.is_set() else 500
            with self.lock:
                body = await request.body()
                self.calls.append((body, request.headers.get(SIGNATURE_HEADER, ""), status))
            return Response(status_code=status)

        return hook

    async def wait_calls(self, count: int) -> None:
        async def arrived() -> bool:
            return len(self.calls) >= count

        await until(arrived, f"{count} webhook calls", seconds=30)


@pytest.fixture
def hook() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()
    with ServerThread(receiver.app()) as server:
        yield f"{server.url}/hook", receiver


def hooks(**extra: float) -> JobSettings:
    return JobSettings(
        webhook_allowed_targets=["127.0.0.1/32"],
        sweep_interval_s=0.3,
        **extra,  # type: ignore[arg-type]
    )


async def webhook_of(app: LiveApp, job_id: str) -> Any:
    response = await app.client.get(
        f"/v1/modules/scaispeak/jobs/{job_id}", headers=app.auth(app.tenancy.member_a)
    )
    return response.json()["webhook"]


async def finished_job(app: LiveApp, **extra: Any) -> Any:
    job = (await submit(app, SHORT, **extra)).json()
    return await wait_for(app, job["id"], {"succeeded"}, seconds=60)


async def attempts_made(app: LiveApp, job_id: str, count: int) -> bool:
    return (await job_row(app, job_id)).webhook_attempts >= count


async def make_due_now(app: LiveApp, job_id: str) -> None:
    """What the passing of a retry's backoff does."""
    async with app.app.state.platform.db.sessions() as session:
        await session.execute(
            update(SynthJob).where(SynthJob.id == job_id).values(webhook_due_at=utcnow())
        )
        await session.commit()


async def test_an_event_cut_off_by_a_stop_is_delivered_by_the_next_process(
    tmp_path: Path, engines: EngineRegistry, hook: tuple[str, Receiver]
) -> None:
    url, receiver = hook
    settings = make_settings(tmp_path, jobs=hooks(webhook_timeout_s=1, webhook_backoff_s=600))
    async with started_app(settings, engines) as first:
        job = await finished_job(first, webhook_url=url)
        await receiver.wait_calls(1)  # refused; the retry waits out a long backoff
        await until(lambda: attempts_made(first, job["id"], 1), "the first attempt's outcome")
        assert (await webhook_of(first, job["id"]))["state"] == "pending"
    # The first process has stopped with the retry still waiting. The receiver is back.
    receiver.accept.set()
    async with started_app(settings, engines) as second:
        await make_due_now(second, job["id"])
        await receiver.wait_calls(2)
        await until(lambda: attempts_made(second, job["id"], 2), "the second attempt's outcome")
        row = await job_row(second, job["id"])
        secret = await secret_of(second, first.tenancy.member_a)
    body, signature, status = receiver.calls[-1]
    assert status == 200 and len(receiver.calls) == 2
    assert verify(secret, body, signature)
    assert json.loads(body)["job"]["id"] == job["id"]
    assert row.webhook_delivered_at is not None and row.webhook_due_at is None
    assert row.webhook_attempts == 2
    # Settled, the URL's path (where receivers keep a secret) is not kept (helper-80).
    assert row.webhook_url == url.split("://")[0] + "://" + url.split("/")[2] + "/…"


async def test_two_processes_never_send_the_same_attempt(
    tmp_path: Path, database_url: str, engines: EngineRegistry, hook: tuple[str, Receiver]
) -> None:
    url, receiver = hook
    receiver.accept.set()
    settings = make_settings(tmp_path, database_url, jobs=hooks())
    async with started_app(settings, engines) as app:
        job = await finished_job(app, webhook_url=url)
        await receiver.wait_calls(1)
        runtime = app.app.state.speak.jobs.runtime
        await asyncio.gather(*runtime.background)  # the first delivery has finished
        # As if that answer had been lost: its outcome (which cuts the URL) never written.
        await make_due_now(app, job["id"])
        async with app.app.state.platform.db.sessions() as session:
            await session.execute(update(SynthJob).filter_by(id=job["id"]).values(webhook_url=url))
            await session.commit()
        both = await asyncio.gather(
            *(
                outbox.attempt(runtime.db, runtime.settings, runtime.signing_key, job["id"])
                for _ in range(2)
            )
        )
        await asyncio.sleep(1)  # room for a sweep to send a third, which it must not
    assert sorted(str(a.sent) for a in both) == sorted([str(None), str(Sent.DELIVERED)])
    assert len(receiver.calls) == 2


async def test_an_event_is_given_up_after_its_attempts_and_the_job_says_so(
    tmp_path: Path, engines: EngineRegistry, hook: tuple[str, Receiver]
) -> None:
    url, receiver = hook
    settings = make_settings(tmp_path, jobs=hooks(webhook_attempts=3, webhook_backoff_s=0.1))
    async with started_app(settings, engines) as app:
        job = await finished_job(app, webhook_url=url)
        await receiver.wait_calls(3)
        await asyncio.gather(*app.app.state.speak.jobs.runtime.background)
        await asyncio.sleep(1)  # room for a sweep to try a fourth time, which it must not
        status = await webhook_of(app, job["id"])
        no_hook = await finished_job(app)
        assert await webhook_of(app, no_hook["id"]) is None
    assert status == {"state": "failed", "attempts": 3, "delivered_at": None}
    assert len(receiver.calls) == 3


async def test_a_job_cancelled_by_its_voice_withdrawn_tells_its_webhook(
    tmp_path: Path, engines: EngineRegistry, hook: tuple[str, Receiver], monkeypatch: Any
) -> None:
    """The caller did not cancel it, so it would otherwise wait for an event that never
    comes; a caller's own cancel sends none."""
    url, receiver = hook
    receiver.accept.set()
    settings = make_settings(tmp_path, jobs=hooks())
    async with started_app(settings, engines) as app:
        pipeline = app.app.state.speak.pipeline
        speak, gate = pipeline.speak_segment, asyncio.Event()

        async def held(*args: Any, **kwargs: Any) -> Any:
            await gate.wait()
            return await speak(*args, **kwargs)

        monkeypatch.setattr(pipeline, "speak_segment", held)
        withdrawn = (await submit(app, SHORT, webhook_url=url)).json()
        own = (await submit(app, SHORT, webhook_url=url)).json()
        await app.client.delete(
            f"/v1/modules/scaispeak/jobs/{own['id']}", headers=app.auth(app.tenancy.member_a)
        )
        await cancel_jobs_of_voice(app.app.state.platform.db, withdrawn["voice_id"])
        gate.set()
        await receiver.wait_calls(1)
        await asyncio.sleep(
            1
        )  # room for a sweep to send the caller's own cancel, which it must not
        # The job says how its event went; the caller's own cancel had none to send.
        assert (await webhook_of(app, withdrawn["id"]))["attempts"] >= 1
        assert await webhook_of(app, own["id"]) is None
    [(body, _signature, _status)] = receiver.calls
    event = json.loads(body)
    assert event["event"] == "job.cancelled" and event["job"]["id"] == withdrawn["id"]
    assert "withdrawn" in event["job"]["error"]
