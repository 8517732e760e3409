"""Relay test support: a real upstream ScaiSpeak, a front app that relays to it, and
the tenant policy that routes to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from scaispeak.app import create_app
from scaispeak.settings import BackendSettings, RelaySettings
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import LiveApp, make_settings, started_app
from tests.support.server import ServerThread, bootstrap_key, free_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Upstream:
    url: str
    key: str
    port: int


@contextmanager
def served_upstream(data_dir: Path, engines: EngineRegistry) -> Iterator[Upstream]:
    """A second ScaiSpeak instance, reached over HTTP like any managed TTS service."""
    settings = make_settings(data_dir)
    key = asyncio.run(bootstrap_key(settings.resolved_database_url, "up@example.com"))
    with ServerThread(create_app(settings, engines=engines)) as server:
        yield Upstream(server.url, key, server.port)


@asynccontextmanager
async def handler_upstream(handler: Handler, path: str = "/{tail:.*}") -> AsyncIterator[str]:
    """``handler`` answering POSTs to ``path`` on a local port, as an upstream's speech
    endpoint would; yields its base URL (``http://127.0.0.1:<port>``)."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def relay_settings(base_url: str, key: str, **extra: object) -> BackendSettings:
    return BackendSettings(relay=RelaySettings(base_url=f"{base_url}/v1", api_key=key, **extra))  # type: ignore[arg-type]


@asynccontextmanager
async def relaying_app(
    tmp_path: Path, engines: EngineRegistry, base_url: str, key: str, **relay: object
) -> AsyncIterator[LiveApp]:
    settings = make_settings(tmp_path, backends=relay_settings(base_url, key, **relay))
    async with started_app(settings, engines) as app:
        yield app


async def put_policy(app: LiveApp, allowed: list[str], default: str, failover: bool) -> None:
    response = await app.client.put(
        "/v1/modules/scaispeak/policy",
        json={"allowed_backends": allowed, "default_backend": default, "failover": failover},
        headers=app.auth(app.tenancy.admin_a),
    )
    assert response.status_code == 200, response.text
