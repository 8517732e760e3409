"""Replicas starting together on a fresh PostgreSQL database seed the stock voices
once between them (the second insert of a voice failed, and its replica did not
start)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from scaispeak.platform.db import Database
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.voices.models import Voice, VoiceScope
from scaispeak.speak.voices.seed import seed_global_voices
from tests.support.database import migrated_database


@pytest.mark.postgres
async def test_replicas_seeding_a_fresh_database_together_both_start(
    engines: EngineRegistry, own_postgres_url: str
) -> None:
    url = own_postgres_url
    async with migrated_database(url):
        replicas = [Database(url) for _ in range(3)]
        try:

            async def seed(db: Database) -> list[str]:
                async with db.sessions() as session:
                    return await seed_global_voices(session, engines)

            seeded = await asyncio.gather(*(seed(db) for db in replicas))
            async with replicas[0].sessions() as session:
                stock = select(func.count()).where(Voice.scope == VoiceScope.global_)
                count = await session.scalar(stock)
        finally:
            for db in replicas:
                await db.dispose()
    assert seeded[0] and all(ids == seeded[0] for ids in seeded)
    assert count == len(seeded[0])
