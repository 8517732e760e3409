"""Live intake over a real WebSocket: consent statement, then the passage, then a voice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from scaispeak.app import create_app
from scaispeak.settings import AccountingSettings, StreamingSettings, VoicesSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.provenance import fingerprint as fp
from scaispeak.speak.synthesis.audio import from_int16_bytes
from scaispeak.speak.voices.audio_input import DecodedAudio
from scaispeak.speak.voices.errors import AnalysisBusy
from scaispeak.speak.voices.verification import check_consent_step, check_reference_step
from tests.conftest import make_settings
from tests.speak.voices.conftest import PHRASE, Clips, FakeFitter, silence, statement
from tests.support.server import ServerThread, bootstrap_key

LIVE = "/v1/modules/scaispeak/voices/clone/live"


INTAKE_CAP = 2
IDLE_S = 4.0


@pytest.fixture
def live_server(tmp_path: Path, engines: EngineRegistry) -> Iterator[tuple[ServerThread, str]]:
    streaming = StreamingSettings(max_streams_per_tenant=INTAKE_CAP, idle_timeout_seconds=IDLE_S)
    settings = make_settings(tmp_path, streaming=streaming)
    key = asyncio.run(bootstrap_key(settings.resolved_database_url, "live@example.com"))
    app = create_app(settings, engines=engines)
    app.state.voices.builder.ctx.fitter = FakeFitter()
    app.state.voices.phrases = lambda: PHRASE
    with ServerThread(app) as server:
        yield server, key


def intake(server: ServerThread, key: str | None = None) -> Any:
    """A live-intake socket on ``server``, as ``key`` (none: unauthenticated)."""
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return connect(server.url.replace("http://", "ws://") + LIVE, additional_headers=headers)


def s16(pcm: np.ndarray) -> bytes:
    return (np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes()


async def send_audio(ws: ClientConnection, data: bytes) -> None:
    for start in range(0, len(data), 8192):
        await ws.send(data[start : start + 8192])
    await ws.send(json.dumps({"type": "done"}))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 60))
    return event


async def test_live_intake_walks_consent_then_passage_and_creates_the_voice(
    live_server: tuple[ServerThread, str], clips: Clips
) -> None:
    server, key = live_server
    async with intake(server, key) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "start",
                    "speaker_name": "Alex Morgan",
                    "name": "live voice",
                    "sample_rate": clips.rate,
                }
            )
        )
        prompt = await receive(ws)
        assert prompt["type"] == "prompt" and prompt["step"] == "consent"
        assert PHRASE in prompt["text"]
        await send_audio(ws, s16(silence(3, clips.rate)))
        failed = await receive(ws)
        assert failed["type"] == "result" and failed["passed"] is False
        await send_audio(ws, s16(clips.genuine))
        passed, passage = await receive(ws), await receive(ws)
        assert passed["passed"] is True and passage["step"] == "reference"
        await send_audio(ws, s16(clips.reference))
        checked, created = await receive(ws), await receive(ws)
        assert checked["passed"] is True, checked
        assert created["type"] == "created" and created["voice"]["status"] == "processing"


async def test_live_intake_without_credentials_closes_with_4401(
    live_server: tuple[ServerThread, str],
) -> None:
    server, _ = live_server
    async with intake(server) as ws:
        event = await receive(ws)
        assert event["type"] == "error" and event["code"] == "unauthorized"
        await ws.wait_closed()
        assert ws.close_code == 4401


async def test_a_retry_before_start_or_a_bad_start_is_refused_and_the_intake_goes_on(
    live_server: tuple[ServerThread, str],
) -> None:
    server, key = live_server
    async with intake(server, key) as ws:
        await ws.send(json.dumps({"type": "retry"}))
        event = await receive(ws)
        assert (event["type"], event["code"], event["fatal"]) == ("error", "out_of_step", False)
        start = {"type": "start", "speaker_name": "Alex", "name": "early", "sample_rate": 16_000}
        await ws.send(json.dumps({**start, "language": "not a language!"}))
        event = await receive(ws)  # refused before anyone records a word
        assert (event["type"], event["code"], event["fatal"]) == ("error", "bad_request", False)
        await ws.send(json.dumps(start))
        assert (await receive(ws))["step"] == "consent"


async def test_deep_json_and_a_huge_type_are_answered_briefly_and_the_intake_goes_on(
    live_server: tuple[ServerThread, str],
) -> None:
    """JSON nested 100,000 deep ended the intake as a 500 (RecursionError), and an
    unknown type of 3 MB was echoed whole (helper-89)."""
    server, key = live_server
    async with intake(server, key) as ws:
        await ws.send("[" * 100_000 + "]" * 100_000)
        event = await receive(ws)
        assert (event["code"], event["fatal"]) == ("bad_request", False)
        await ws.send(json.dumps({"type": "y" * 1_000_000}))
        event = await receive(ws)
        assert (event["code"], event["fatal"]) == ("bad_request", False)
        assert len(json.dumps(event)) < 300
        start = {"type": "start", "speaker_name": "Alex", "name": "on", "sample_rate": 16_000}
        await ws.send(json.dumps(start))
        assert (await receive(ws))["step"] == "consent"


async def test_an_intakes_commands_count_against_the_tenants_request_rate(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    """Each start wrote a challenge, each done an entry, to the tenant's audit log, with
    no limit but how fast the client sent them (helper-89)."""
    accounting = AccountingSettings(requests_per_minute_per_tenant=5)
    settings = make_settings(tmp_path, accounting=accounting)
    key = await asyncio.to_thread(
        lambda: asyncio.run(bootstrap_key(settings.resolved_database_url, "rate@example.com"))
    )
    with ServerThread(create_app(settings, engines=engines)) as server:
        async with intake(server, key) as ws:
            codes = []
            for _ in range(8):
                await ws.send(json.dumps({"type": "retry"}))
                event = await receive(ws)
                codes.append((event["code"], event["fatal"]))
    assert codes[:5] == [("out_of_step", False)] * 5
    assert codes[5:] == [("rate_limited", False)] * 3


async def test_intakes_count_as_the_tenants_streams_and_an_idle_one_ends(
    live_server: tuple[ServerThread, str],
) -> None:
    """Each intake keeps its recordings in memory until it ends."""
    server, key = live_server
    start = {"type": "start", "speaker_name": "Alex", "name": "idle", "sample_rate": 16_000}
    async with contextlib.AsyncExitStack() as open_intakes:
        for _ in range(INTAKE_CAP):
            ws = await open_intakes.enter_async_context(intake(server, key))
            await ws.send(json.dumps(start))
            assert (await receive(ws))["step"] == "consent"
        async with intake(server, key) as refused:
            event = await receive(refused)
            assert (event["code"], event["fatal"]) == ("too_many_streams", True)
            await refused.wait_closed()
            assert refused.close_code == 4429
        event = json.loads(await asyncio.wait_for(ws.recv(), IDLE_S + 10))
        assert (event["code"], event["status"], event["fatal"]) == ("idle_timeout", 408, True)
        await ws.wait_closed()
        assert ws.close_code == 4408


async def test_a_step_refuses_audio_beyond_its_longest_clip(
    live_server: tuple[ServerThread, str],
) -> None:
    """30 s at 16 kHz is the consent step's cap, far below the 25 MiB upload cap."""
    server, key = live_server
    async with intake(server, key) as ws:
        start = {"type": "start", "speaker_name": "Alex", "name": "capped", "sample_rate": 16_000}
        await ws.send(json.dumps(start))
        assert (await receive(ws))["step"] == "consent"
        too_long = s16(silence(31, 16_000))
        for offset in range(0, len(too_long), 32_000):
            await ws.send(too_long[offset : offset + 32_000])
        event = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert event["type"] == "error" and event["code"] == "upload_too_large"
        assert event["status"] == 413 and event["fatal"] is False and "30 s" in event["detail"]


def test_a_recording_of_the_wrong_length_is_neither_transcribed_nor_matched(
    clips: Clips,
) -> None:
    """Whisper and Resemblyzer would only hold the analysis thread for a clip that fails."""
    settings = VoicesSettings()
    seconds = settings.consent_max_s + 5
    long_consent = np.tile(clips.genuine, int(seconds * clips.rate) // clips.genuine.size + 1)
    audio = DecodedAudio(long_consent.astype(np.float32), clips.rate, "pcm", "pcm_s16le", 1)
    clip, said = check_consent_step(audio, statement(), PHRASE, settings)
    assert clip.report is not None and "duration" in clip.report.failed()
    assert said is None
    short = DecodedAudio(clips.reference[: 2 * clips.rate], clips.rate, "pcm", "pcm_s16le", 1)
    genuine = DecodedAudio(clips.genuine, clips.rate, "pcm", "pcm_s16le", 1)
    reference, speaker = check_reference_step(short, genuine, settings)
    assert reference.report is not None and "duration" in reference.report.failed()
    assert speaker is None


async def test_a_take_refused_as_busy_is_checked_at_the_next_done(
    live_server: tuple[ServerThread, str], clips: Clips
) -> None:
    """The take was dropped before its analysis: the "try again" of analysis_busy then
    checked nothing, and the speaker had to read the statement again."""
    server, key = live_server
    analysis = server.server.config.app.state.voices.analysis
    run, calls = analysis.run, []

    async def busy_once(*args: Any, owner: str) -> Any:
        calls.append(owner)
        if len(calls) == 1:
            raise AnalysisBusy("Voice analysis is busy; try again in a few seconds.")
        return await run(*args, owner=owner)

    analysis.run = busy_once
    async with intake(server, key) as ws:
        start = {
            "type": "start",
            "speaker_name": "Alex Morgan",
            "name": "busy",
            "sample_rate": clips.rate,
        }
        await ws.send(json.dumps(start))
        assert (await receive(ws))["step"] == "consent"
        await send_audio(ws, s16(clips.genuine))
        busy = await receive(ws)
        assert (busy["type"], busy["code"], busy["fatal"]) == ("error", "analysis_busy", False)
        await ws.send(json.dumps({"type": "done"}))  # the same take, checked now
        passed, passage = await receive(ws), await receive(ws)
        assert passed["passed"] is True, passed
        assert passage["step"] == "reference"
    assert calls[0] and set(calls) == {calls[0]}  # each analysis counted to the tenant


async def test_an_intake_whose_challenge_lapses_ends_instead_of_refusing_every_take(
    live_server: tuple[ServerThread, str], clips: Clips, tmp_path: Path
) -> None:
    """The challenge is issued at start and lives 15 minutes; a speaker slower than that
    got "passed" then "challenge expired" for every take, and could not start again."""
    server, key = live_server
    database = make_settings(tmp_path).resolved_database_url.split("///", 1)[1]
    async with intake(server, key) as ws:
        start = {"type": "start", "speaker_name": "Alex Morgan", "name": "v"}
        await ws.send(json.dumps({**start, "sample_rate": clips.rate}))
        await receive(ws)
        await send_audio(ws, s16(clips.genuine))
        passed, _passage = await receive(ws), await receive(ws)
        assert passed["passed"] is True
        with contextlib.closing(sqlite3.connect(database)) as db:
            db.execute("UPDATE consent_challenges SET expires_at = '2000-01-01 00:00:00'")
            db.commit()
        await send_audio(ws, s16(clips.reference))
        ended = await receive(ws)
        assert (ended["type"], ended["code"], ended["fatal"]) == ("error", "challenge_lapsed", True)
        assert "expired" in ended["detail"]
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 4409


async def test_a_whole_step_sent_as_one_message_is_taken(
    live_server: tuple[ServerThread, str],
) -> None:
    """30 s at 48 kHz is 2.9 MB: the server's WebSocket message cap must leave room."""
    server, key = live_server
    async with intake(server, key) as ws:
        start = {"type": "start", "speaker_name": "Alex Morgan", "name": "v"}
        await ws.send(json.dumps({**start, "sample_rate": 48_000}))
        assert (await receive(ws))["type"] == "prompt"
        await ws.send(s16(silence(30, 48_000)))
        await ws.send(json.dumps({"type": "retry"}))
        again = await receive(ws)
        assert (again["type"], again["step"]) == ("prompt", "consent")


def database_of(tmp_path: Path) -> str:
    return make_settings(tmp_path).resolved_database_url.split("///", 1)[1]


def record_as_made_here(database: str, data: bytes, rate: int) -> None:
    """Store ``data`` (s16) as a clip this service made, at the challenge's issue."""
    words = fp.fingerprint(from_int16_bytes(data), rate)
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute(
            "INSERT INTO provenance_records (id, tenant_id, user_id, request_id, kind, "
            "voice_id, watermarked, duration_s, fingerprint, created_at) "
            "SELECT 'prv_test', tenant_id, 'usr_x', 'req_x', 'speak', 'voc_x', 0, 1.0, ?, "
            "created_at FROM consent_challenges",
            (fp.to_bytes(words),),
        )
        db.commit()


async def started(ws: ClientConnection, rate: int) -> None:
    start = {"type": "start", "speaker_name": "Alex Morgan", "name": "v", "sample_rate": rate}
    await ws.send(json.dumps(start))
    assert (await receive(ws))["step"] == "consent"


async def test_a_consent_take_made_here_fails_at_its_own_step(
    live_server: tuple[ServerThread, str], clips: Clips, tmp_path: Path
) -> None:
    """The replay check ran only when the voice was made, after the passage was read."""
    server, key = live_server
    async with intake(server, key) as ws:
        await started(ws, clips.rate)
        record_as_made_here(database_of(tmp_path), s16(clips.genuine), clips.rate)
        await send_audio(ws, s16(clips.genuine))
        failed = await receive(ws)
        assert failed["passed"] is False, failed
        checks = {c["name"]: c["status"] for c in failed["report"]["consent"]["checks"]}
        assert checks["synthetic"] == "fail"


async def test_a_consent_refused_when_the_voice_is_made_goes_back_to_the_consent_step(
    live_server: tuple[ServerThread, str], clips: Clips, tmp_path: Path
) -> None:
    """The intake stayed at the passage, whose every reading was refused for the
    consent recording, until the challenge ran out of attempts."""
    server, key = live_server
    async with intake(server, key) as ws:
        await started(ws, clips.rate)
        await send_audio(ws, s16(clips.genuine))
        passed, _passage = await receive(ws), await receive(ws)
        assert passed["passed"] is True
        record_as_made_here(database_of(tmp_path), s16(clips.genuine), clips.rate)
        await send_audio(ws, s16(clips.reference))
        checked, refused, prompt = await receive(ws), await receive(ws), await receive(ws)
        assert checked["passed"] is True and refused["passed"] is False, refused
        assert refused["report"]["consent"]["passed"] is False
        assert (prompt["type"], prompt["step"]) == ("prompt", "consent")


async def test_every_judged_take_is_an_audit_entry_failed_ones_too(
    live_server: tuple[ServerThread, str], clips: Clips, tmp_path: Path
) -> None:
    server, key = live_server
    async with intake(server, key) as ws:
        await started(ws, clips.rate)
        await send_audio(ws, s16(silence(3, clips.rate)))
        assert (await receive(ws))["passed"] is False
    with contextlib.closing(sqlite3.connect(database_of(tmp_path))) as db:
        rows = db.execute(
            "SELECT details FROM voice_audit WHERE action = 'intake_live_take'"
        ).fetchall()
    assert len(rows) == 1
    take = json.loads(rows[0][0])
    assert (take["step"], take["passed"], take["live"]) == ("consent", False, True)
    assert take["challenge_id"].startswith("chl") and len(take["clip_sha256"]) == 64


async def test_a_failed_readings_words_are_not_kept_in_the_audit_chain(
    live_server: tuple[ServerThread, str], clips: Clips, tmp_path: Path
) -> None:
    """A failed take may be anything said near the microphone; the chain, never deleted,
    kept its transcript (helper-79). It keeps a fingerprint and the scores; the caller's
    own result still shows what was heard."""
    server, key = live_server
    async with intake(server, key) as ws:
        await started(ws, clips.rate)
        await send_audio(ws, s16(clips.reference))  # speech, but not the consent statement
        result = await receive(ws)
    assert result["passed"] is False and result["report"]["statement"]["passed"] is False
    assert result["report"]["statement"]["transcript"]
    with contextlib.closing(sqlite3.connect(database_of(tmp_path))) as db:
        [(details,)] = db.execute(
            "SELECT details FROM voice_audit WHERE action = 'intake_live_take'"
        ).fetchall()
    kept = json.loads(details)["report"]["statement"]
    assert "transcript" not in kept and len(kept["transcript_sha256"]) == 64
    assert kept["char_error"] == result["report"]["statement"]["char_error"]
