"""A database migrated to head, for tests that work below the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from scaispeak.platform.db import Database
from scaispeak.platform.migrate import upgrade_to_head


@asynccontextmanager
async def migrated_database(url: str) -> AsyncIterator[Database]:
    db = Database(url)
    try:
        await upgrade_to_head(db.engine)
        yield db
    finally:
        await db.dispose()
