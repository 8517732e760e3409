"""`/healthz`, `/readyz` and `/metrics` for a process that serves no API: the worker.

An orchestrator needs the same liveness and readiness answers from a worker as from
an API replica, and Prometheus the same scrape; this serves ``ops_router`` alone on
its own port, inside the worker's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator, Mapping, Sequence

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from scaispeak.platform.http_protocol import BoundedHeadProtocol
from scaispeak.platform.observability import Refresh, ops_router
from scaispeak.platform.readiness import Probe


class _Embedded(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The worker owns SIGTERM and SIGINT: they must stop its jobs first, and
        # uvicorn would take them for itself and re-raise them once it stopped.
        yield


class OpsServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        probes: Mapping[str, Probe],
        before_scrape: Sequence[Refresh] = (),
    ) -> None:
        self.app = FastAPI(title="ScaiSpeak worker", docs_url=None, redoc_url=None)
        self.app.state.ready = False
        self.app.include_router(ops_router(registry, probes, before_scrape))
        self._server: _Embedded | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return bool(self.app.state.ready)

    @ready.setter
    def ready(self, value: bool) -> None:
        self.app.state.ready = value

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``; a port that is taken stops the worker, saying so."""
        try:
            # Bound here, not by uvicorn, so a refusal is an error this start reports
            # (uvicorn would log it and exit the process from inside its task).
            listening = listening_socket(host, port)
        except OSError as exc:
            where = f"{host}:{port}"
            raise SystemExit(f"error: cannot serve health endpoints on {where}: {exc}") from exc
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", http=BoundedHeadProtocol
        )
        self._server = _Embedded(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[listening]))

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)


UNREAD_SEND_MAX_MS = 120_000
"""How long a connection's sent data may wait for the client to take it before the
kernel drops the connection (TCP_USER_TIMEOUT). Idle connections are not affected."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (IPv6 too: ``::``); raises OSError when the
    port is taken or the address is not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.create_server((host, port), family=family)
    if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux; accepted connections inherit it
        # A client that stops reading leaves our sends unacknowledged (a zero window):
        # without a bound its connection, and the buffers queued on it, stayed for good.
        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, UNREAD_SEND_MAX_MS)
    return listening
