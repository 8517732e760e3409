"""Fixtures of the job tests: a webhook receiver, an app allowed to reach it, and the
migrated PostgreSQL database and the Redis of the tests that need them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from scaispeak.platform.db import Database
from scaispeak.settings import JobSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.jobs.webhooks import SIGNATURE_HEADER
from tests.conftest import LiveApp, make_settings, started_app
from tests.support.database import migrated_database
from tests.support.server import ServerThread

Received = list[tuple[bytes, str]]


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    """A real webhook receiver on a loopback port; yields its URL and what it got."""
    received: Received = []
    hook = FastAPI()

    @hook.post("/hook")
    async def take(request: Request) -> dict[str, bool]:
        received.append((await request.body(), request.headers.get(SIGNATURE_HEADER, "")))
        return {"ok": True}

    with ServerThread(hook) as server:
        yield f"{server.url}/hook", received


@pytest.fixture
async def loopback_hooks_app(tmp_path: Path, engines: EngineRegistry) -> AsyncIterator[LiveApp]:
    """A SQLite app whose operator allows webhooks to loopback, where ``receiver`` runs.

    Loopback is refused by default (SSRF); the allow-list setting is how an on-premises
    deployment reaches an internal receiver, and how these tests reach theirs.
    """
    jobs = JobSettings(webhook_allowed_targets=["127.0.0.1/32"])
    async with started_app(make_settings(tmp_path, jobs=jobs), engines) as live_app:
        yield live_app


@pytest.fixture
async def pg_db(own_postgres_url: str) -> AsyncIterator[Database]:
    """A PostgreSQL database of the test's own, migrated, for tests that run a worker by
    hand: a worker takes the next job in line, which in the shared database could be
    another test's job left running when its app stopped."""
    async with migrated_database(own_postgres_url) as db:
        yield db


@pytest.fixture
def redis_url() -> str:
    """The Redis the distributed tests use; skipped with a message when none answers."""
    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (OSError, redis.RedisError):
        pytest.skip(f"no Redis answers at {url}")
    return url
