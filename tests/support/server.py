"""Real servers for tests: a uvicorn thread on a loopback port, and a bootstrap key;
for `scaispeak serve` in a subprocess, the key it prints and its readiness."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import uvicorn

from scaispeak.platform.body_limits import WEBSOCKET_MESSAGE_MAX_BYTES
from scaispeak.platform.http_protocol import BoundedHeadProtocol

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """A real uvicorn server on a loopback port, in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws_max_size=WEBSOCKET_MESSAGE_MAX_BYTES,  # as `scaispeak serve` runs it
            http=BoundedHeadProtocol,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coro`` on the server's event loop (to inspect its tasks) and return its result."""
        assert self.loop is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _run(self) -> None:
        factory = self.server.config.get_loop_factory() or asyncio.new_event_loop

        def make_loop() -> asyncio.AbstractEventLoop:
            self.loop = factory()  # kept, so tests can run coroutines on it
            return self.loop

        with asyncio.Runner(loop_factory=make_loop) as runner:
            runner.run(self.server.serve())


async def bootstrap_key(database_url: str, email: str = "oa@example.com") -> str:
    """Migrate and bootstrap through a short-lived engine, before the server starts."""
    from scaispeak.platform.auth.service import bootstrap
    from tests.support.database import migrated_database

    async with migrated_database(database_url) as db, db.sessions() as session:
        made = await bootstrap(session, "boot", email, only_if_empty=False)
    assert made is not None
    return made.key.secret


def printed_key(server: subprocess.Popen[str], timeout: float = 120) -> str:
    """The API key a first `scaispeak serve` prints on its stdout."""
    assert server.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"API key \(shown once, keep it\): (\S+)", server.stdout.readline())
        if found:
            return found.group(1)
    raise AssertionError("serve did not print an API key")


def wait_ready(base: str, timeout: float = 120) -> None:
    """Wait until the server at ``base`` answers /readyz with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} never became ready")
