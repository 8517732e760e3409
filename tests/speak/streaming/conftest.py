"""A real uvicorn server for the streaming tests, with a bootstrapped key (one per module)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from scaispeak.app import create_app
from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import (
    Budget,
    BudgetPeriod,
    Reservation,
    ReservationState,
    SpendCounter,
)
from scaispeak.platform.auth.principal import Principal
from scaispeak.platform.auth.service import bootstrap
from scaispeak.platform.db import Database
from scaispeak.platform.migrate import upgrade_to_head
from scaispeak.settings import EngineSettings, StreamingSettings
from scaispeak.speak.context import SpeakContext
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from tests.conftest import make_settings
from tests.speak.streaming.session_rig import HeldEngine, MemorySink, Rig
from tests.support.polling import until
from tests.support.server import ServerThread, bootstrap_key

PIPER = "voc_piper_en-us-joe-medium"
STREAM_CAP = 3


@dataclass
class StreamServer:
    server: ServerThread
    app: FastAPI
    key: str

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def speak(self) -> SpeakContext:
        ctx: SpeakContext = self.app.state.speak
        return ctx

    def task_count(self) -> int:
        """Tasks alive on the server's event loop (the counting task included)."""

        async def count() -> int:
            return len(asyncio.all_tasks())

        return self.server.call(count())

    async def settled(self) -> None:
        """Wait until no stream is open and the inference pool is idle."""
        pool, streams = self.speak.pool, self.speak.streams
        await until(
            lambda: not (pool.running or pool.queued or streams.count()),
            "an idle server",
            30,
            every=0.02,
        )


@pytest.fixture(scope="module")
def stream_server(
    tmp_path_factory: pytest.TempPathFactory, engines: EngineRegistry
) -> Iterator[StreamServer]:
    streaming = StreamingSettings(max_streams_per_tenant=STREAM_CAP)
    settings = make_settings(Path(tmp_path_factory.mktemp("stream")), streaming=streaming)
    key = asyncio.run(bootstrap_key(settings.resolved_database_url, "stream@example.com"))
    app = create_app(settings, engines=engines)
    with ServerThread(app) as server:
        yield StreamServer(server, app, key)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """A stream's pipeline on the stand-in engine (two inference threads), and a sink."""
    engine = HeldEngine()
    pool = InferencePool(2)
    metrics = SpeakMetrics(CollectorRegistry())
    pipeline = SynthesisPipeline(EngineRegistry([engine]), pool, EngineSettings(), metrics)
    yield Rig(engine, pool, pipeline, MemorySink())
    engine.gate.set()
    pool.shutdown()


def tokens(text: str, seed: int = 7) -> list[str]:
    """``text`` cut into the 1-4 character pieces an LLM would send."""
    rng = random.Random(seed)
    pieces, position = [], 0
    while position < len(text):
        size = rng.randint(1, 4)
        pieces.append(text[position : position + size])
        position += size
    return pieces


def pcm_samples(data: bytes) -> npt.NDArray[np.float32]:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


@dataclass
class Ledger:
    """A tenant with a budget in a database of its own."""

    db: Database
    principal: Principal

    async def holds_left(self) -> list[Reservation]:
        async with self.db.sessions() as session:
            held = Reservation.state == ReservationState.held
            return list((await session.execute(select(Reservation).where(held))).scalars())

    async def tenant_reserved_micros(self) -> int:
        async with self.db.sessions() as session:
            tenant_row = SpendCounter.user_id == accounting.TENANT_ROW
            counter = (await session.execute(select(SpendCounter).where(tenant_row))).scalar_one()
            return counter.reserved_micros


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/ledger.db")
    await upgrade_to_head(db.engine)
    async with db.sessions() as session:
        made = await bootstrap(session, "holds", "holds@example.com", only_if_empty=False)
        assert made is not None
        session.add(
            Budget(tenant_id=made.tenant.id, period=BudgetPeriod.month, limit_micros=10**12)
        )
        await session.commit()
    yield Ledger(db, Principal(made.user.id, made.tenant.id, made.user.role))
    await db.dispose()
