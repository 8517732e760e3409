"""Per-request database cost on SQLite: SQLAlchemy's aiosqlite adapter vs the one-hop driver.

    .venv/bin/python bench/sqlite_driver.py [--rounds 400]

Both engines open the same migrated database file. Each round, in its own session as a
request would: look up an API key with its user (the auth query), and append a ledger
line and commit (the settlement). Prints the median of each for both drivers, the
ratio, and how many hops to the connection's thread each made.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from scaispeak.platform.accounting.models import UsageEntry
from scaispeak.platform.auth.models import ApiKey, Role, Tenant, User
from scaispeak.platform.db import _sqlite_pragmas, create_engine, new_id
from scaispeak.platform.migrate import upgrade_to_head

Round = Callable[[async_sessionmaker[Any]], Awaitable[None]]


def plain_engine(url: str) -> AsyncEngine:
    """What platform/db.py built before the one-hop driver."""
    engine = create_async_engine(url, connect_args={"timeout": 30})
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


async def seed(engine: AsyncEngine) -> tuple[str, str]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        tenant = Tenant(name="bench")
        session.add(tenant)
        await session.flush()
        user = User(tenant_id=tenant.id, email="b@example.com", name="b", role=Role.member)
        session.add(user)
        await session.flush()
        session.add(
            ApiKey(
                tenant_id=tenant.id, user_id=user.id, prefix="abcdefabcdef", secret_hash="0" * 64
            )
        )
        await session.commit()
        return tenant.id, user.id


def rounds(tenant_id: str, user_id: str) -> dict[str, Round]:
    async def auth_query(sessions: async_sessionmaker[Any]) -> None:
        async with sessions() as session:
            stmt = select(ApiKey, User).join(User, User.id == ApiKey.user_id)
            (await session.execute(stmt.where(ApiKey.prefix == "abcdefabcdef"))).one()

    async def ledger_line(sessions: async_sessionmaker[Any]) -> None:
        async with sessions() as session:
            session.add(
                UsageEntry(
                    tenant_id=tenant_id,
                    user_id=user_id,
                    voice_id="voc_bench",
                    backend="selfhosted",
                    kind="speak",
                    characters=68,
                    audio_seconds=3.7,
                    cost_micros=0,
                    request_id=new_id("req"),
                    reservation_id=new_id("rsv"),
                )
            )
            await session.commit()

    return {"auth query": auth_query, "ledger line + commit": ledger_line}


def count_hops() -> list[int]:
    """Counts every function queued on any aiosqlite connection thread."""
    counter = [0]
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]
    return counter


async def time_round(
    engine: AsyncEngine, work: Round, n: int, hops: list[int]
) -> tuple[float, float]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    for _ in range(20):
        await work(sessions)
    times = []
    hops[0] = 0
    for _ in range(n):
        started = time.perf_counter()
        await work(sessions)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, hops[0] / n


async def main(n: int) -> None:
    hops = count_hops()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        ours, plain = create_engine(url), plain_engine(url)
        await upgrade_to_head(ours)
        tenant_id, user_id = await seed(ours)
        print(f"{n} rounds each, one session per round (as one request)")
        for name, work in rounds(tenant_id, user_id).items():
            base_ms, base_hops = await time_round(plain, work, n, hops)
            one_ms, one_hops = await time_round(ours, work, n, hops)
            print(
                f"{name:22s} aiosqlite adapter {base_ms:6.3f} ms ({base_hops:.0f} hops)   "
                f"one-hop {one_ms:6.3f} ms ({one_hops:.0f} hops)   "
                f"ratio {one_ms / base_ms:.2f}"
            )
        await ours.dispose()
        await plain.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=400)
    asyncio.run(main(parser.parse_args().rounds))
