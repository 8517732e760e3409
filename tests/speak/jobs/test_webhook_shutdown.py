"""A process that stops gives webhook deliveries in flight a bounded grace period: a slow
receiver still gets its event, a retry waiting out a long backoff is cut off in time."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response

from scaispeak.settings import JobSettings
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import make_settings, started_app
from tests.speak.jobs.test_jobs_embedded import submit, wait_for
from tests.support.server import ServerThread

SHORT = "The lighthouse keeper climbed the stairs at dusk."


class Receiver:
    """A webhook receiver on a loopback port that answers ``status`` after ``delay_s``."""

    def __init__(self, status: int, delay_s: float) -> None:
        self.arrived = threading.Event()  # set when a request comes in, before answering
        self.answered: list[bytes] = []
        self.app = FastAPI()

        @self.app.post("/hook")
        async def take(request: Request) -> Response:
            self.arrived.set()
            body = await request.body()
            await asyncio.sleep(delay_s)
            self.answered.append(body)
            return Response(status_code=status)


@pytest.fixture
def slow_receiver() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver(200, delay_s=4.0)  # room to look at the delivery while it waits
    with ServerThread(receiver.app) as server:
        yield f"{server.url}/hook", receiver


@pytest.fixture
def failing_receiver() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver(500, delay_s=0.0)
    with ServerThread(receiver.app) as server:
        yield f"{server.url}/hook", receiver


def loopback_hooks(**extra: float) -> JobSettings:
    return JobSettings(webhook_allowed_targets=["127.0.0.1/32"], **extra)  # type: ignore[arg-type]


async def test_stopping_waits_for_a_webhook_delivery_in_flight(
    tmp_path: Path, engines: EngineRegistry, slow_receiver: tuple[str, Receiver]
) -> None:
    url, receiver = slow_receiver
    settings = make_settings(tmp_path, jobs=loopback_hooks(webhook_timeout_s=10))
    async with started_app(settings, engines) as app:
        job = (await submit(app, SHORT, webhook_url=url)).json()
        await wait_for(app, job["id"], {"succeeded"}, seconds=60)
        assert await asyncio.to_thread(receiver.arrived.wait, 30)
        deliveries = set(app.app.state.speak.jobs.runtime.background)
    # The app has stopped: the delivery that was under way finished first.
    assert [json.loads(body)["job"]["id"] for body in receiver.answered] == [job["id"]]
    assert deliveries and all(task.done() and task.result() for task in deliveries)


async def test_stopping_cuts_off_a_webhook_retry_after_the_grace_period(
    tmp_path: Path,
    engines: EngineRegistry,
    failing_receiver: tuple[str, Receiver],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, receiver = failing_receiver
    hooks = loopback_hooks(webhook_timeout_s=1, webhook_backoff_s=60)
    async with started_app(make_settings(tmp_path, jobs=hooks), engines) as app:
        job = (await submit(app, SHORT, webhook_url=url)).json()
        await wait_for(app, job["id"], {"succeeded"}, seconds=60)
        assert await asyncio.to_thread(receiver.arrived.wait, 30)  # now in a 30-90 s backoff
        deliveries = set(app.app.state.speak.jobs.runtime.background)
        caplog.set_level(logging.WARNING, logger="scaispeak.speak.jobs.outbox")
        stopping = asyncio.get_running_loop().time()
    assert asyncio.get_running_loop().time() - stopping < 10  # not the backoff's 30 s or more
    assert deliveries and all(task.cancelled() for task in deliveries)
    assert f"webhook of {job['id']} not delivered" in caplog.text
