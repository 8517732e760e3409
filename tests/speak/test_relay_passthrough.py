"""A relayed clip passed on as it arrives, from an upstream trusted to level and mark.

Against a real upstream ScaiSpeak over HTTP; where the upstream has to misbehave in
time (hold its last bytes back, or break off), a loopback server replays a real
upstream answer on cue.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile
from sqlalchemy import func, select

from scaispeak.platform.accounting.models import SpendCounter, UsageEntry
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.provenance.models import ProvenanceRecord
from scaispeak.speak.provenance.watermark import shared_watermarker
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from tests.conftest import LiveApp
from tests.support.asr import transcribe, word_error_rate
from tests.support.relay import Upstream, put_policy, relaying_app
from tests.support.server import free_port

SPEAK = "/v1/modules/scaispeak/speak"
JOE = "voc_piper_en-us-joe-medium"
TRUSTED = {"upstream_watermarks": True, "upstream_levels": True}
TEXT = "The quick brown fox jumps over the lazy dog."


def relayed(format: str = "pcm", sample_rate: int = 24000) -> dict[str, object]:
    return {
        "text": TEXT,
        "voice_id": JOE,
        "format": format,
        "sample_rate": sample_rate,
        "backend": "relay",
    }


class AssembleCounter:
    """Counts the front pipeline's assemblies (the buffered path's last step)."""

    def __init__(self, pipeline: SynthesisPipeline) -> None:
        self.calls = 0
        inner = pipeline.assemble

        async def counted(made: Any) -> Any:
            self.calls += 1
            return await inner(made)

        pipeline.assemble = counted  # type: ignore[method-assign]


async def set_budget(app: LiveApp) -> None:
    response = await app.client.put(
        f"/v1/tenants/{app.tenancy.tenant_a}/budget",
        json={"limit_micros": 10**9},
        headers=app.auth(app.tenancy.superadmin),
    )
    assert response.status_code == 200, response.text


async def counters(app: LiveApp) -> tuple[int, int]:
    async with app.app.state.platform.db.sessions() as session:
        totals = await session.execute(
            select(func.sum(SpendCounter.reserved_micros), func.sum(SpendCounter.spent_micros))
        )
        reserved, spent = totals.one()
    return int(reserved or 0), int(spent or 0)


async def ledger_line(app: LiveApp, request_id: str) -> UsageEntry | None:
    async with app.app.state.platform.db.sessions() as session:
        return await session.scalar(select(UsageEntry).where(UsageEntry.request_id == request_id))


async def test_a_trusted_upstreams_pcm_is_passed_on_untouched_and_charged(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key, **TRUSTED) as app:
        await set_budget(app)
        assembled = AssembleCounter(app.app.state.speak.pipeline)
        response = await app.client.post(
            SPEAK, json=relayed(), headers=app.auth(app.tenancy.member_a)
        )
        assert response.status_code == 200, response.text
        assert assembled.calls == 0  # nothing buffered, levelled or encoded here
        body = response.content
        assert response.headers["content-length"] == str(len(body))
        assert response.headers["x-scaispeak-backend"] == "relay"
        assert response.headers["x-scaispeak-audio-seconds"] == f"{len(body) / 2 / 24000:.3f}"
        pcm = np.frombuffer(body, "<i2").astype(np.float32) / 32768
        assert word_error_rate(TEXT, transcribe(pcm, 24000)) <= 0.12  # one word of nine
        assert shared_watermarker().is_marked(pcm, 24000)  # the upstream's mark
        line = await ledger_line(app, response.headers["X-Request-Id"])
        assert line is not None and line.backend == "relay" and line.characters == len(TEXT)
        assert line.audio_seconds == pytest.approx(len(body) / 2 / 24000)
        assert await counters(app) == (0, line.cost_micros)  # settled, nothing left held
        async with app.app.state.platform.db.sessions() as session:
            record = await session.scalar(
                select(ProvenanceRecord).where(
                    ProvenanceRecord.request_id == response.headers["X-Request-Id"]
                )
            )
        assert record is not None and record.watermarked and record.fingerprint


async def test_wav_is_passed_on_behind_its_header(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key, **TRUSTED) as app:
        assembled = AssembleCounter(app.app.state.speak.pipeline)
        response = await app.client.post(
            SPEAK, json=relayed("wav"), headers=app.auth(app.tenancy.member_a)
        )
        assert response.status_code == 200, response.text
        assert assembled.calls == 0
        pcm, rate = soundfile.read(io.BytesIO(response.content), dtype="float32")
        assert rate == 24000 and len(response.content) == 44 + 2 * len(pcm)
        assert word_error_rate(TEXT, transcribe(pcm, rate)) <= 0.12  # one word of nine


@pytest.mark.parametrize(
    ("trust", "fmt", "rate"),
    [
        ({"upstream_watermarks": True}, "pcm", 24000),  # its level is not trusted
        (TRUSTED, "mp3", 24000),  # needs encoding
        (TRUSTED, "pcm", 16000),  # needs resampling
    ],
)
async def test_audio_that_needs_our_work_is_buffered(
    tmp_path: Path,
    engines: EngineRegistry,
    upstream: Upstream,
    trust: dict[str, bool],
    fmt: str,
    rate: int,
) -> None:
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key, **trust) as app:
        assembled = AssembleCounter(app.app.state.speak.pipeline)
        response = await app.client.post(
            SPEAK, json=relayed(fmt, rate), headers=app.auth(app.tenancy.member_a)
        )
        assert response.status_code == 200, response.text
        assert assembled.calls == 1


@asynccontextmanager
async def replaying_upstream(
    answer: bytes, after_half: Callable[[asyncio.StreamWriter], Awaitable[None]]
) -> AsyncIterator[str]:
    """A loopback "upstream" that answers any request with ``answer`` (pcm, with its
    Content-Length), sending the first half, then leaving the rest to ``after_half``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: audio/pcm\r\n"
            + f"content-length: {len(answer)}\r\n\r\n".encode()
            + answer[: len(answer) // 2]
        )
        await writer.drain()
        await after_half(writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def real_answer(upstream: Upstream) -> bytes:
    """What the real upstream answers for TEXT (pcm, levelled and marked)."""
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            f"{upstream.url}/v1/audio/speech",
            json={"model": "tts-1", "input": TEXT, "voice": JOE, "response_format": "pcm"},
            headers={"Authorization": f"Bearer {upstream.key}"},
        )
    response.raise_for_status()
    return response.content


@asynccontextmanager
async def trusted_front(
    tmp_path: Path,
    engines: EngineRegistry,
    answer: bytes,
    after_half: Callable[[asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[LiveApp]:
    """A budgeted front that trusts a replaying upstream (``replaying_upstream``)."""
    async with (
        replaying_upstream(answer, after_half) as url,
        relaying_app(tmp_path, engines, url, "k", **TRUSTED) as app,
    ):
        await set_budget(app)
        yield app


class AsgiCall:
    """POST straight into the app's ASGI interface, keeping each message as it is
    sent (an in-process HTTP client would hand over the body only once complete)."""

    def __init__(
        self,
        app: LiveApp,
        body: dict[str, object],
        *,
        hang_up_after: int | None = None,
        refuse_start: bool = False,
    ) -> None:
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.bodies_left = hang_up_after
        self.refuse_start = refuse_start
        data = json.dumps(body).encode()
        key = app.tenancy.member_a
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": SPEAK,
            "raw_path": SPEAK.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"test"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"authorization", f"Bearer {key}".encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        self.request = [{"type": "http.request", "body": data, "more_body": False}]
        self.task = asyncio.create_task(app.app(self.scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        if self.request:
            return self.request.pop()
        await asyncio.Event().wait()  # the caller never hangs up
        raise AssertionError("unreachable")

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and self.refuse_start:
            raise OSError("the caller hung up before the answer began")
        if message["type"] == "http.response.body" and self.bodies_left is not None:
            if self.bodies_left == 0:  # an ASGI 2.4 server's word for a caller gone
                raise OSError("the caller hung up")
            self.bodies_left -= 1
        await self.messages.put(message)

    async def next_body(self) -> bytes:
        """The next non-empty body chunk sent."""
        while True:
            message = await asyncio.wait_for(self.messages.get(), 60)
            if message["type"] == "http.response.body" and message["body"]:
                return bytes(message["body"])

    def received(self) -> bytes:
        chunks = []
        while not self.messages.empty():
            message = self.messages.get_nowait()
            if message["type"] == "http.response.body":
                chunks.append(message["body"])
        return b"".join(chunks)


async def test_first_audio_goes_before_the_upstream_has_sent_it_all(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    answer = await real_answer(upstream)
    rest_may_go = asyncio.Event()

    async def rest_on_cue(writer: asyncio.StreamWriter) -> None:
        await rest_may_go.wait()
        writer.write(answer[len(answer) // 2 :])
        await writer.drain()

    async with trusted_front(tmp_path, engines, answer, rest_on_cue) as app:
        call = AsgiCall(app, relayed())
        first = await call.next_body()  # arrives while the upstream still holds half
        assert answer.startswith(first)
        reserved, spent = await counters(app)
        assert reserved > 0 and spent == 0  # held, not settled: the clip has not all come
        rest_may_go.set()
        await asyncio.wait_for(call.task, 60)
        assert first + call.received() == answer  # untouched, byte for byte
        reserved, spent = await counters(app)
        assert reserved == 0 and spent == 30 * len(TEXT)


async def test_pcm_passed_on_goes_in_whole_samples_however_the_upstream_cuts_it(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    """Each piece went on as the upstream's chunks fell: odd lengths, which a client
    decoding each SSE delta on its own cannot read as 16-bit samples."""
    answer = await real_answer(upstream)

    async def rest_in_odd_pieces(writer: asyncio.StreamWriter) -> None:
        rest = answer[len(answer) // 2 :]
        for start in range(0, len(rest), 1001):
            writer.write(rest[start : start + 1001])
            await writer.drain()
            await asyncio.sleep(0.01)

    async with trusted_front(tmp_path, engines, answer, rest_in_odd_pieces) as app:
        call = AsgiCall(app, relayed())
        await asyncio.wait_for(call.task, 60)
        pieces = []
        while not call.messages.empty():
            message = call.messages.get_nowait()
            if message["type"] == "http.response.body" and message["body"]:
                pieces.append(bytes(message["body"]))
    assert b"".join(pieces) == answer and len(pieces) > 3
    assert [len(piece) % 2 for piece in pieces] == [0] * len(pieces)


async def test_an_upstream_that_breaks_off_cuts_the_response_and_charges_nothing(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    answer = await real_answer(upstream)

    async def break_off(writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with trusted_front(tmp_path, engines, answer, break_off) as app:
        call = AsgiCall(app, relayed())
        with pytest.raises(Exception, match="broke off"):
            await asyncio.wait_for(call.task, 60)
        assert len(call.received()) < len(answer)
        assert await counters(app) == (0, 0)  # the hold was released
        async with app.app.state.platform.db.sessions() as session:
            assert await session.scalar(select(func.count(UsageEntry.id))) == 0


async def test_a_caller_who_hangs_up_is_charged_in_full_and_the_clip_recorded(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    answer = await real_answer(upstream)

    async def rest_at_once(writer: asyncio.StreamWriter) -> None:
        writer.write(answer[len(answer) // 2 :])
        await writer.drain()

    async with trusted_front(tmp_path, engines, answer, rest_at_once) as app:
        call = AsgiCall(app, relayed(), hang_up_after=1)
        await asyncio.wait_for(call.task, 60)  # no error: nobody is left to tell
        got = call.received()
        assert 0 < len(got) < len(answer)
        assert await counters(app) == (0, 30 * len(TEXT))  # the clip was made: settled
        async with app.app.state.platform.db.sessions() as session:
            lines = await session.scalar(select(func.count(UsageEntry.id)))
            records = await session.scalar(select(func.count(ProvenanceRecord.id)))
        assert (lines, records) == (1, 1)


async def test_a_trusted_upstream_that_is_down_fails_over_before_anything_is_sent(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    async with relaying_app(tmp_path, engines, dead, "x", retries=0, **TRUSTED) as app:
        await put_policy(app, ["relay", "selfhosted"], "relay", failover=True)
        response = await app.client.post(
            SPEAK, json={**relayed(), "backend": None}, headers=app.auth(app.tenancy.member_a)
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-scaispeak-backend"] == "selfhosted"
        pcm = np.frombuffer(response.content, "<i2").astype(np.float32) / 32768
        assert word_error_rate(TEXT, transcribe(pcm, 24000)) <= 0.12  # one word of nine


async def test_relayed_audio_whose_levelling_fails_is_not_charged(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relayed clip is levelled and marked here while it is assembled: work that can
    fail, so it is settled after it, as a codec's clip is (it ran alongside)."""
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key) as app:
        await set_budget(app)
        pipeline = app.app.state.speak.pipeline

        def broken(*_args: Any) -> Any:
            raise RuntimeError("the watermark model failed")

        monkeypatch.setattr(pipeline, "_finish", broken)
        failed = await app.client.post(
            SPEAK, json=relayed("wav"), headers=app.auth(app.tenancy.member_a)
        )
        assert failed.status_code == 500 and failed.json()["code"] == "internal_error"
        assert await counters(app) == (0, 0)  # released, not spent


async def test_a_passed_on_clip_whose_response_cannot_start_owes_nothing(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream
) -> None:
    """The server refuses the response's start (the caller has gone): the hold and the
    tenant's slot are given back, not left to the sweep (or, for the slot, forever)."""
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key, **TRUSTED) as app:
        await set_budget(app)
        call = AsgiCall(app, relayed(), refuse_start=True)
        with pytest.raises(OSError):
            await call.task
        assert await counters(app) == (0, 0)
        limiter = app.app.state.platform.limiter
        assert limiter._running[app.tenancy.tenant_a] == 0
