"""Backends, tenant policy and the relay, against a real upstream ScaiSpeak over HTTP."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile
from aiohttp import web
from sqlalchemy import func, select

from scaispeak.app import create_app
from scaispeak.platform.accounting.models import SpendCounter, UsageEntry
from scaispeak.settings import RelaySettings
from scaispeak.speak.backends.models import TenantPolicy
from scaispeak.speak.engines.base import EngineUnavailable, Pcm, UpstreamFailed
from scaispeak.speak.engines.circuit import CircuitBreaker, CircuitState
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.engines.relay import RelayEngine
from scaispeak.speak.errors import BackendUnavailable
from scaispeak.speak.provenance.models import ProvenanceRecord
from scaispeak.speak.provenance.watermark import Watermarker, shared_watermarker
from tests.conftest import LiveApp, make_settings
from tests.platform.test_auth import assert_problem
from tests.speak.jobs.test_jobs_embedded import STORY, submit, wait_for
from tests.support.asr import transcribe, word_error_rate
from tests.support.relay import Upstream, handler_upstream, put_policy, relaying_app
from tests.support.server import ServerThread, bootstrap_key, free_port

SPEAK = "/v1/modules/scaispeak/speak"
JOE = "voc_piper_en-us-joe-medium"


async def speak(app: LiveApp, text: str, **extra: object) -> httpx.Response:
    return await app.client.post(
        SPEAK,
        json={"text": text, "voice_id": JOE, "format": "wav", **extra},
        headers=app.auth(app.tenancy.member_a),
    )


async def test_relay_speaks_through_the_upstream(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key) as app:
        text = "The quick brown fox jumps over the lazy dog."
        response = await speak(app, text, backend="relay")
        assert response.status_code == 200, response.text
        assert response.headers["x-scaispeak-backend"] == "relay"
        assert response.headers["x-scaispeak-cost-micros"] == str(30 * len(text))
        pcm, rate = soundfile.read(io.BytesIO(response.content), dtype="float32")
        # One misheard word of the nine is 0.11 ("quilt" for "quick", seen once in CI).
        assert word_error_rate(text, transcribe(pcm, rate)) <= 0.12
        backends = (
            await app.client.get(
                "/v1/modules/scaispeak/backends", headers=app.auth(app.tenancy.member_a)
            )
        ).json()
        assert {b["name"]: b["state"] for b in backends} == {"selfhosted": "ok", "relay": "closed"}


async def test_upstream_down_fails_over_when_policy_allows(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with relaying_app(tmp_path, engines, dead, "x", retries=0) as app:
        await put_policy(app, ["relay", "selfhosted"], "relay", failover=True)
        response = await speak(app, "Failover keeps us talking.")
        assert response.status_code == 200
        assert response.headers["x-scaispeak-backend"] == "selfhosted"


async def test_a_job_is_charged_at_the_price_of_each_backend_that_spoke_it(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay fails for the second segment only, and selfhosted speaks it: that
    segment costs selfhosted's price, the rest the relay's, and the line names the relay."""
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key) as app:
        await put_policy(app, ["relay", "selfhosted"], "relay", failover=True)
        pipeline = app.app.state.speak.jobs.runtime.pipeline
        speak_segment = pipeline.speak_segment

        async def relay_fails_on_the_second(
            index: int, segment: Any, engine: str, *a: Any, **k: Any
        ) -> Any:
            if index == 1 and engine == "relay":
                raise BackendUnavailable("the relay is down for this one segment")
            return await speak_segment(index, segment, engine, *a, **k)

        monkeypatch.setattr(pipeline, "speak_segment", relay_fails_on_the_second)
        job = (await submit(app)).json()
        done = await wait_for(app, job["id"], {"succeeded", "failed"})
        assert done["state"] == "succeeded", done
        async with app.app.state.platform.db.sessions() as session:
            line = (
                await session.execute(select(UsageEntry).filter_by(request_id=job["id"]))
            ).scalar_one()
        prices = app.app.state.platform.settings.accounting.prices_micros_per_char
        second = len(pipeline.plan(STORY)[1].text)
        total = len(STORY)
        assert line.backend == "relay" and line.characters == total
        assert (
            line.cost_micros == prices["relay"] * (total - second) + prices["selfhosted"] * second
        )


async def test_upstream_down_without_failover_is_503_and_releases_the_hold(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with relaying_app(tmp_path, engines, dead, "x", retries=1) as app:
        await put_policy(app, ["relay"], "relay", failover=False)
        await app.client.put(
            f"/v1/tenants/{app.tenancy.tenant_a}/budget",
            json={"limit_micros": 10**6},
            headers=app.auth(app.tenancy.superadmin),
        )
        assert_problem(await speak(app, "Nobody is listening."), 503, "backend_unavailable")
        async with app.app.state.platform.db.sessions() as session:
            totals = await session.execute(
                select(func.sum(SpendCounter.reserved_micros), func.sum(SpendCounter.spent_micros))
            )
            assert tuple(totals.one()) == (0, 0)


async def test_circuit_opens_then_closes_when_the_upstream_returns(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, engines: EngineRegistry
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    up_settings = make_settings(Path(tmp_path_factory.mktemp("late-upstream")))
    key = await bootstrap_key(up_settings.resolved_database_url, "late@example.com")
    async with relaying_app(
        tmp_path, engines, base, key, retries=0, breaker_failures=2, breaker_cooldown_s=1.0
    ) as app:
        await put_policy(app, ["relay"], "relay", failover=False)
        for _ in range(2):
            assert_problem(await speak(app, "Is anyone there?"), 503, "backend_unavailable")
        relay = app.app.state.speak.catalog.relay
        assert relay.breaker.state.value == "open"
        started = time.perf_counter()
        assert_problem(await speak(app, "Refused at once."), 503, "backend_unavailable")
        assert time.perf_counter() - started < 0.5  # no connection attempt while open
        with ServerThread(create_app(up_settings, engines=engines), port=port):
            await asyncio.sleep(1.1)  # the cooldown: the next call is the half-open trial
            response = await speak(app, "The upstream is back.")
            assert response.status_code == 200, response.text
            assert relay.breaker.state.value == "closed"


async def test_explicit_backend_must_be_allowed(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key) as app:
        await put_policy(app, ["selfhosted"], "selfhosted", failover=True)
        assert_problem(
            await speak(app, "Not that way.", backend="relay"), 403, "backend_not_allowed"
        )
        assert_problem(
            await speak(app, "Nor this.", backend="carrier-pigeon"), 422, "unknown_backend"
        )


async def test_policy_is_tenant_admin_only_and_validated(live: LiveApp) -> None:
    member = live.auth(live.tenancy.member_a)
    body = {"allowed_backends": ["selfhosted"], "default_backend": "selfhosted"}
    response = await live.client.put("/v1/modules/scaispeak/policy", json=body, headers=member)
    assert_problem(response, 403, "forbidden")
    admin = live.auth(live.tenancy.admin_a)
    bad = {"allowed_backends": ["selfhosted"], "default_backend": "relay"}
    assert_problem(
        await live.client.put("/v1/modules/scaispeak/policy", json=bad, headers=admin),
        422,
        "invalid_policy",
    )


async def test_defaults_apply_until_a_tenant_sets_a_policy(live: LiveApp) -> None:
    policy = (
        await live.client.get(
            "/v1/modules/scaispeak/policy", headers=live.auth(live.tenancy.member_a)
        )
    ).json()
    assert policy == {
        "allowed_backends": ["selfhosted"],
        "default_backend": "selfhosted",
        "failover": True,
        "customised": False,
    }


async def test_cloned_voices_stay_self_hosted(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    from scaispeak.speak.voices.models import VoiceScope
    from tests.speak.test_tenant_isolation import add_tenant_voice

    async with relaying_app(tmp_path, engines, upstream.url, upstream.key) as app:
        voice = await add_tenant_voice(app, app.tenancy.tenant_a, None, VoiceScope.tenant)
        await put_policy(app, ["relay", "selfhosted"], "relay", failover=True)
        response = await app.client.post(
            SPEAK,
            json={"text": "Mine alone.", "voice_id": voice},
            headers=app.auth(app.tenancy.member_a),
        )
        assert response.headers["x-scaispeak-backend"] == "selfhosted"
        refused = await app.client.post(
            SPEAK,
            json={"text": "Mine alone.", "voice_id": voice, "backend": "relay"},
            headers=app.auth(app.tenancy.member_a),
        )
        assert_problem(refused, 422, "voice_not_on_backend")


class CountingWatermarker(Watermarker):
    """The front's own watermarker, counting the segments it embeds into."""

    def __init__(self, inner: Watermarker) -> None:
        super().__init__()
        self.inner, self.embedded = inner, 0

    def embed(self, pcm: Pcm, rate: int) -> Pcm:
        self.embedded += 1
        return self.inner.embed(pcm, rate)


@pytest.mark.parametrize("upstream_watermarks", [True, False])
async def test_relayed_audio_is_marked_once_by_a_marking_upstream_when_configured_so(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream, upstream_watermarks: bool
) -> None:
    async with relaying_app(
        tmp_path, engines, upstream.url, upstream.key, upstream_watermarks=upstream_watermarks
    ) as app:
        front = app.app.state.speak.pipeline
        counting = front.watermarker = CountingWatermarker(front.watermarker)
        response = await speak(app, "Marked upstream, and recorded here.", backend="relay")
        assert response.status_code == 200, response.text
        pcm, rate = soundfile.read(io.BytesIO(response.content), dtype="float32")
        assert shared_watermarker().is_marked(pcm, rate)  # the upstream marks by default
        assert (counting.embedded == 0) is upstream_watermarks
        async with app.app.state.platform.db.sessions() as session:
            record = await session.scalar(
                select(ProvenanceRecord).where(
                    ProvenanceRecord.request_id == response.headers["X-Request-Id"]
                )
            )
        assert record is not None and record.watermarked is True  # still recorded here


class ScriptedUpstream:
    """An OpenAI-style speech endpoint whose answer the test sets: a status, or a hang."""

    def __init__(self) -> None:
        self.status = 200
        self.hang = False
        self.received = asyncio.Event()
        self.stopping = asyncio.Event()

    async def speech(self, request: web.Request) -> web.Response:
        await request.read()
        self.received.set()
        if self.hang:
            await self.stopping.wait()
        if self.status != 200:
            return web.Response(status=self.status, text="refused")
        return web.Response(body=b"\x00\x00" * 2400)


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def scripted_relay() -> AsyncIterator[tuple[RelayEngine, ScriptedUpstream, ManualClock]]:
    """A relay engine whose breaker opens after 2 failures and cools down in 10 s of
    ``ManualClock`` time, in front of a ``ScriptedUpstream``."""
    upstream = ScriptedUpstream()
    async with handler_upstream(upstream.speech, "/v1/audio/speech") as url:
        relay = RelayEngine(RelaySettings(base_url=f"{url}/v1", retries=0))
        clock = ManualClock()
        relay.breaker = CircuitBreaker(failures=2, cooldown_s=10, clock=clock)
        try:
            yield relay, upstream, clock
        finally:
            upstream.stopping.set()
            await relay.close()


async def _open_the_circuit(relay: RelayEngine, upstream: ScriptedUpstream) -> None:
    upstream.status = 503
    for _ in range(2):
        with pytest.raises(EngineUnavailable):
            await relay.synthesize_async("Hello.", "alloy")
    assert relay.breaker.state is CircuitState.open


async def test_upstream_4xx_on_the_half_open_trial_closes_the_circuit() -> None:
    """A 4xx refuses our request; the upstream answered, so it is not down."""
    async with scripted_relay() as (relay, upstream, clock):
        await _open_the_circuit(relay, upstream)
        clock.now += 10
        upstream.status = 400
        with pytest.raises(UpstreamFailed):
            await relay.synthesize_async("Rejected text.", "alloy")
        assert relay.breaker.state is CircuitState.closed
        upstream.status = 200
        assert len(await relay.synthesize_async("Hello again.", "alloy")) == 2400


async def test_upstream_4xx_does_not_count_towards_opening_the_circuit() -> None:
    async with scripted_relay() as (relay, upstream, _clock):
        for status in (503, 400, 503):
            upstream.status = status
            with pytest.raises((EngineUnavailable, UpstreamFailed)):
                await relay.synthesize_async("Hello.", "alloy")
        assert relay.breaker.state is CircuitState.closed


async def test_cancelled_half_open_trial_lets_the_next_call_probe() -> None:
    async with scripted_relay() as (relay, upstream, clock):
        await _open_the_circuit(relay, upstream)
        clock.now += 10
        upstream.status, upstream.hang = 200, True
        upstream.received.clear()
        trial = asyncio.create_task(relay.synthesize_async("Never answered.", "alloy"))
        await asyncio.wait_for(upstream.received.wait(), 5)
        trial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trial
        upstream.hang = False
        assert len(await relay.synthesize_async("Answered now.", "alloy")) == 2400
        assert relay.breaker.state is CircuitState.closed


async def test_passed_body_closed_before_its_end_frees_the_half_open_trial() -> None:
    async with scripted_relay() as (relay, upstream, clock):
        await _open_the_circuit(relay, upstream)
        clock.now += 10
        upstream.status = 200
        body = await relay.open_body("Closed unread.", "alloy")
        await body.close()
        body = await relay.open_body("Read to the end.", "alloy")
        assert b"".join([chunk async for chunk in body.chunks]) == b"\x00\x00" * 2400
        assert relay.breaker.state is CircuitState.closed


async def test_a_policy_whose_backends_are_all_gone_is_503_not_the_callers_fault(
    sqlite_app: LiveApp,
) -> None:
    """The tenant allowed only the relay, and the deployment no longer configures one."""
    async with sqlite_app.app.state.platform.db.sessions() as session:
        session.add(
            TenantPolicy(
                tenant_id=sqlite_app.tenancy.tenant_a,
                allowed_backends=["relay"],
                default_backend="relay",
                failover=False,
            )
        )
        await session.commit()
    refused = await speak(sqlite_app, "Is anyone there?")
    assert_problem(refused, 503, "backend_unavailable")
    assert "policy" in refused.json()["detail"]
