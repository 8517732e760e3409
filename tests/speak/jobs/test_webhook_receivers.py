"""A webhook receiver cannot hold an attempt, or the sender's memory: the attempt
ends within its timeout however slowly the receiver answers, the answer's body is
never read, and host names or URLs the service cannot use are refused at submit."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from ipaddress import IPv6Address
from typing import Any

import pytest

from scaispeak.settings import JobSettings
from scaispeak.speak.jobs import webhook_targets
from scaispeak.speak.jobs.webhook_targets import is_public
from scaispeak.speak.jobs.webhooks import Sent, send
from tests.conftest import LiveApp
from tests.speak.jobs.test_jobs_embedded import submit
from tests.speak.jobs.test_save_to_and_webhooks import job_count

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]
TIMEOUT_S = 1.0
SETTINGS = JobSettings(webhook_timeout_s=TIMEOUT_S, webhook_allowed_targets=["127.0.0.1/32"])


@asynccontextmanager
async def raw_receiver(answer: Answer) -> AsyncIterator[str]:
    """A receiver on a loopback port that reads the request, then answers as told."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the sender hung up: what these receivers are waiting for
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    finally:
        server.close()


async def trickle_the_status_line(writer: asyncio.StreamWriter) -> None:
    """Every byte within any read timeout, the answer never complete."""
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(TIMEOUT_S / 4)


async def endless_body(writer: asyncio.StreamWriter) -> None:
    """A 200 at once, then a chunked body that never ends."""
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        writer.write(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
        await writer.drain()
        await asyncio.sleep(0.01)


async def _send_timed(url: str) -> tuple[Sent, float]:
    started = time.monotonic()
    # Far past the attempt's own bound: only a sender that ignores it gets here.
    sent = await asyncio.wait_for(send(url, {"event": "job.succeeded"}, ["s"], SETTINGS), 20)
    return sent, time.monotonic() - started


async def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout() -> None:
    async with raw_receiver(trickle_the_status_line) as url:
        sent, took = await _send_timed(url)
        assert sent is Sent.FAILED
        assert took < TIMEOUT_S + 1.0


async def test_a_receivers_endless_body_is_never_read() -> None:
    async with raw_receiver(endless_body) as url:
        sent, took = await _send_timed(url)
        assert sent is Sent.DELIVERED  # its status said so; the body is not ours to read
        assert took < TIMEOUT_S


@pytest.mark.parametrize(
    "url",
    [
        "https://" + "a" * 64 + ".example.com/hook",  # a label the IDNA codec refuses
        "https://hooks.example.com/" + "p" * 2000,  # past the stored column
    ],
)
async def test_a_webhook_url_the_service_cannot_use_is_a_422(sqlite_app: LiveApp, url: str) -> None:
    before = await job_count(sqlite_app)
    refused = await submit(sqlite_app, webhook_url=url)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert await job_count(sqlite_app) == before


def test_deprecated_site_local_ipv6_is_not_public() -> None:
    assert not is_public(IPv6Address("fec0::1"))
    assert is_public(IPv6Address("2606:4700:4700::1111"))


async def test_receivers_whose_dns_hangs_never_starve_the_services_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hung lookup keeps its thread past the timeout: on the loop's default executor,
    a few such receivers took every thread a job's assembly waits for."""
    hung = threading.Event()

    def lookup_that_hangs(*_: Any, **__: Any) -> Any:
        hung.wait(30)
        raise OSError("gave up")

    monkeypatch.setattr(socket, "getaddrinfo", lookup_that_hangs)
    anyone = webhook_targets.TargetPolicy.from_settings([])
    try:
        for n in range(40):  # more than any default executor's threads
            with pytest.raises(TimeoutError):
                await webhook_targets.destination(f"https://h{n}.example.com/", anyone, 0.01)
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), 2) == "free"
    finally:
        hung.set()


async def answer_500(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


async def test_a_webhook_urls_path_never_reaches_the_log(caplog: pytest.LogCaptureFixture) -> None:
    """Receivers such as Slack's carry their secret in the path, which the log's
    redaction (query strings, credentials) would keep."""
    async with raw_receiver(answer_500) as url:
        secret_url = url.replace("/hook", "/services/T000/B000/XXXXSECRET")
        with caplog.at_level("WARNING", logger="scaispeak"):
            sent, _ = await _send_timed(secret_url)
    assert sent is Sent.FAILED
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "answered 500" in logged and "127.0.0.1" in logged
    assert "XXXXSECRET" not in logged
