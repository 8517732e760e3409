"""Redis going away, briefly or for good, while the shared limits depend on it.

The per-tenant request limiter and the per-tenant stream cap both count in Redis. A
request that did its work must still answer (it may be charged), one that cannot be
counted gets a clear 503 rather than a 500, and an open stream keeps its slot through
a blip. Redis is reached through a proxy the tests can cut and restore.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from scaispeak.platform import leased_slots
from scaispeak.platform.errors import problem_of
from scaispeak.platform.limits import LimiterUnavailable, RedisLimiter, TooManyRequests
from scaispeak.speak.streaming.admission import ActiveStreams, RedisStreamSlots
from scaispeak.speak.streaming.protocol import TooManyStreams
from tests.support.redis_probe import skip_unless_redis

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


class RedisLink:
    """A TCP proxy to Redis that a test cuts (every connection dropped, new ones
    refused) and restores on the same port, as a network blip or a restart would."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def _relay(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        try:
            upstream, to_upstream = await asyncio.open_connection(REDIS_HOST, REDIS_PORT)
        except OSError:
            to_client.close()
            return
        self._writers |= {to_client, to_upstream}
        await asyncio.gather(_pump(client, to_upstream), _pump(upstream, to_client))


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy bytes one way until either side goes (a cut closes both)."""
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except OSError:
        pass
    finally:
        sink.close()


@pytest.fixture
async def link() -> AsyncIterator[RedisLink]:
    await skip_unless_redis(REDIS_URL)
    proxy = RedisLink()
    await proxy.restore()
    yield proxy
    with contextlib.suppress(AssertionError):
        await proxy.cut()


@pytest.fixture
async def limiter(link: RedisLink) -> AsyncIterator[RedisLimiter]:
    # A slot deadline with room for the cut, the failed release and the reconnect below
    # on a loaded machine; the test then waits it out.
    made = RedisLimiter(link.url, max_concurrent=1, per_minute=1000, slot_ttl_s=4)
    yield made
    await made.close()


def _tenant() -> str:
    return f"ten_{uuid.uuid4().hex}"


async def test_a_finished_request_still_answers_when_redis_drops_before_its_release(
    link: RedisLink, limiter: RedisLimiter
) -> None:
    tenant = _tenant()
    async with limiter.slot(tenant):
        await link.cut()  # the request is done (and charged) when Redis goes away
    await link.restore()

    # The slot Redis could not drop still counts, until its deadline lets it go.
    with pytest.raises(TooManyRequests):
        async with limiter.slot(tenant):
            pass
    await asyncio.sleep(limiter.slot_ttl_s + 0.2)
    async with limiter.slot(tenant):
        pass


async def test_a_request_that_cannot_be_counted_is_refused_with_503(
    link: RedisLink, limiter: RedisLimiter
) -> None:
    await link.cut()

    with pytest.raises(LimiterUnavailable) as refused:
        async with limiter.slot(_tenant()):
            pytest.fail("the request ran although its limits could not be checked")

    problem = problem_of(refused.value)
    assert problem is not None
    assert (problem.status, problem.code) == (503, "limiter_unavailable")
    assert int(refused.value.headers["Retry-After"]) >= 1


@pytest.fixture
async def stream_slots(link: RedisLink) -> AsyncIterator[tuple[ActiveStreams, ActiveStreams]]:
    """A replica reaching Redis through the link, and one reaching it directly."""
    through_link = RedisStreamSlots(link.url, ttl_s=0.6)
    direct = RedisStreamSlots(REDIS_URL, ttl_s=0.6)
    yield ActiveStreams(through_link), ActiveStreams(direct)
    await through_link.close()
    await direct.close()


async def test_an_open_stream_counts_again_after_a_blip_longer_than_its_slot_ttl(
    link: RedisLink, stream_slots: tuple[ActiveStreams, ActiveStreams]
) -> None:
    behind_link, other_replica = stream_slots
    tenant = _tenant()
    async with behind_link.hold(tenant, 1):
        await link.cut()
        await asyncio.sleep(1.3)  # past the slot's deadline and the whole key's expiry
        await link.restore()
        await asyncio.sleep(0.6)  # a few renewal ticks (every TTL/3 = 0.2 s)

        with pytest.raises(TooManyStreams):
            async with other_replica.hold(tenant, 1):
                pytest.fail("a second stream was admitted while the first is open, cap 1")


async def test_an_open_stream_counts_again_as_soon_as_redis_is_back(
    link: RedisLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed renewal waited for the next tick, a third of the TTL (20 s for streams
    in production), during which other replicas admitted past the cap (helper-95)."""
    monkeypatch.setattr(leased_slots, "RETRY_S", 0.1, raising=False)
    through_link = RedisStreamSlots(link.url, ttl_s=6)  # renewed every 2 s
    direct = RedisStreamSlots(REDIS_URL, ttl_s=6)
    other_replica = ActiveStreams(direct)
    tenant = _tenant()
    try:
        async with ActiveStreams(through_link).hold(tenant, 1):
            await asyncio.sleep(0.5)
            await link.cut()
            await direct._redis.delete(f"scaispeak:streams:{tenant}")  # Redis came back empty
            await asyncio.sleep(1.8)  # the renewal at 2 s fails
            await link.restore()
            await asyncio.sleep(0.6)  # the next tick would come 1.1 s later still

            with pytest.raises(TooManyStreams):
                async with other_replica.hold(tenant, 1):
                    pytest.fail("a second stream was admitted while the first is open, cap 1")
    finally:
        await through_link.close()
        await direct.close()


async def test_a_stream_that_cannot_be_counted_is_refused_with_503(
    link: RedisLink, stream_slots: tuple[ActiveStreams, ActiveStreams]
) -> None:
    behind_link, _other = stream_slots
    await link.cut()

    with pytest.raises(LimiterUnavailable) as refused:
        async with behind_link.hold(_tenant(), 1):
            pytest.fail("the stream opened although it could not be counted")

    assert (refused.value.status, refused.value.code) == (503, "limiter_unavailable")
    assert behind_link.count() == 0


async def test_an_outage_is_logged_once_not_once_a_second_per_slot(
    link: RedisLink, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Each held slot warned on every retry: 200 open streams logged 200 lines a second
    for as long as Redis was away (helper-97)."""
    monkeypatch.setattr(leased_slots, "RETRY_S", 0.05, raising=False)
    through_link = RedisStreamSlots(link.url, ttl_s=0.6)  # renewed every 0.2 s
    streams, tenant = ActiveStreams(through_link), _tenant()
    try:
        async with contextlib.AsyncExitStack() as open_streams:
            for _ in range(5):
                await open_streams.enter_async_context(streams.hold(tenant, 10))
            await link.cut()
            await asyncio.sleep(1.0)  # about 20 failed retries for each of the 5 slots
            await link.restore()
            await asyncio.sleep(0.5)
    finally:
        await through_link.close()

    messages = [r.getMessage() for r in caplog.records if r.name == leased_slots.__name__]
    assert sum("could not renew" in m for m in messages) == 1
    assert sum("renewed again" in m for m in messages) == 1
