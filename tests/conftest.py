"""Fixtures that build the real thing: engines, databases (SQLite and PostgreSQL), apps.

Models load once per test session and are shared by every app the tests build.
PostgreSQL tests get a fresh database of their own on the server at
``SCAISPEAK_TEST_POSTGRES`` (default 127.0.0.1:5432, user postgres); they are skipped
with a message only when no server answers.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from scaispeak.app import create_app
from scaispeak.settings import EngineSettings, Settings
from scaispeak.speak.engines.registry import EngineRegistry, build_engines

POSTGRES_ADMIN_URL = os.environ.get(
    "SCAISPEAK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> EngineRegistry:
    data = tmp_path_factory.mktemp("engine-cache")
    registry = build_engines(Settings(data_dir=data))
    registry.warm_all()
    return registry


def _postgres_answers() -> bool:
    import asyncpg

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; skips without PostgreSQL."""
    import asyncpg

    if not _postgres_answers():
        pytest.skip(f"no PostgreSQL answers at {POSTGRES_ADMIN_URL}")
    name = f"scaispeak_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The test session's PostgreSQL database, shared by the tests that use it."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def own_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own: for processes that sweep every job in
    their database, which must not run other tests' leftovers."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def make_settings(data_dir: Path, database_url: str | None = None, **extra: object) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        bootstrap_on_start=False,
        secret_key="test-signing-key-0123456789abcdef",
        engines=EngineSettings(inference_threads=2),
        **extra,  # type: ignore[arg-type]
    )


@dataclass
class Tenancy:
    """Two tenants with the roles the rules talk about, and their API keys."""

    superadmin: str
    tenant_a: str
    admin_a: str
    member_a: str
    member_a_user: str
    tenant_b: str
    member_b: str


async def build_tenancy(client: httpx.AsyncClient, app: FastAPI) -> Tenancy:
    from scaispeak.platform.auth.service import bootstrap

    async with app.state.platform.db.sessions() as session:
        made = await bootstrap(
            session, "platform", f"root-{uuid.uuid4().hex[:8]}@example.com", only_if_empty=False
        )
    assert made is not None
    root = {"Authorization": f"Bearer {made.key.secret}"}

    async def tenant_with(name: str, *roles: str) -> tuple[str, list[tuple[str, str]]]:
        tenant = (await client.post("/v1/tenants", json={"name": name}, headers=root)).json()
        keys = []
        for role in roles:
            user = (
                await client.post(
                    f"/v1/tenants/{tenant['id']}/users",
                    json={"email": f"{role}-{uuid.uuid4().hex[:6]}@{name}.com", "role": role},
                    headers=root,
                )
            ).json()
            key = (await client.post(f"/v1/users/{user['id']}/keys", json={}, headers=root)).json()
            keys.append((user["id"], key["secret"]))
        return tenant["id"], keys

    tenant_a, a_keys = await tenant_with("acme", "tenant_admin", "member")
    tenant_b, b_keys = await tenant_with("globex", "member")
    return Tenancy(
        superadmin=made.key.secret,
        tenant_a=tenant_a,
        admin_a=a_keys[0][1],
        member_a=a_keys[1][1],
        member_a_user=a_keys[1][0],
        tenant_b=tenant_b,
        member_b=b_keys[0][1],
    )


@dataclass
class LiveApp:
    app: FastAPI
    client: httpx.AsyncClient
    tenancy: Tenancy

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def started_app(settings: Settings, engines: EngineRegistry) -> AsyncIterator[LiveApp]:
    """An app started (migrated, seeded) with two tenants, reached in process."""
    app = create_app(settings, engines=engines)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield LiveApp(app, client, await build_tenancy(client, app))


@pytest.fixture
async def live(
    tmp_path: Path, database_url: str, engines: EngineRegistry
) -> AsyncIterator[LiveApp]:
    """An app on SQLite and on PostgreSQL, started (migrated, seeded), with two tenants."""
    async with started_app(make_settings(tmp_path, database_url), engines) as live_app:
        yield live_app


@pytest.fixture
async def sqlite_app(tmp_path: Path, engines: EngineRegistry) -> AsyncIterator[LiveApp]:
    """Like ``live`` but SQLite only: for tests about audio rather than the database."""
    async with started_app(make_settings(tmp_path), engines) as live_app:
        yield live_app
