"""The Redis the distributed-mode tests use, and skipping them where none answers."""

from __future__ import annotations

import pytest
import redis.asyncio as redis

REDIS_URL = "redis://127.0.0.1:6379/0"


async def redis_answers(url: str = REDIS_URL) -> bool:
    client = redis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except (OSError, redis.RedisError):
        return False
    finally:
        await client.aclose()


async def skip_unless_redis(url: str = REDIS_URL) -> None:
    if not await redis_answers(url):
        pytest.skip(f"no Redis answers at {url}")
