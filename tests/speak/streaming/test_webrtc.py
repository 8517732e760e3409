"""WebRTC sessions over a real socket: an aiortc peer speaks, barges in, and hangs up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from scaispeak.app import create_app
from scaispeak.settings import StreamingSettings, WebRtcSettings
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.transports.rtc_peer import RtcPeer
from scaispeak.speak.transports.rtc_sessions import RtcSessions, RtcStream
from tests.conftest import make_settings
from tests.speak.streaming.conftest import PIPER, StreamServer, tokens
from tests.support.asr import transcribe, word_error_rate
from tests.support.polling import until
from tests.support.rtc_client import RATE, SESSIONS_PATH, RtcClient, offer_sdp
from tests.support.server import ServerThread, bootstrap_key

TEXT = "The quick brown fox jumps over the lazy dog, one small token at a time."
PARAGRAPH = " ".join(
    f"This is sentence {n} of a long answer, and it keeps the voice busy for a while."
    for n in range(1, 13)
)
LEAD_S = WebRtcSettings().playout_lead_ms / 1000
FRAME_S = 0.1
"""The session's frame (streaming.frame_ms): the most that is in flight at a cancel."""


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def other_tenant_key(stream_server: StreamServer) -> str:
    """A member of a second tenant on the same server."""
    with httpx.Client(base_url=stream_server.url, headers=_auth(stream_server.key)) as http:
        tenant = http.post("/v1/tenants", json={"name": "globex"}).json()
        email = f"member-{uuid.uuid4().hex[:6]}@globex.com"
        body = {"email": email, "role": "member"}
        user = http.post(f"/v1/tenants/{tenant['id']}/users", json=body).json()
        secret: str = http.post(f"/v1/users/{user['id']}/keys", json={}).json()["secret"]
        return secret


@pytest.fixture
def colleague_key(stream_server: StreamServer) -> str:
    """A member of the same tenant as ``stream_server.key``."""
    with httpx.Client(base_url=stream_server.url, headers=_auth(stream_server.key)) as http:
        tenant_id = http.get("/v1/auth/me").json()["tenant_id"]
        body = {"email": f"member-{uuid.uuid4().hex[:6]}@boot.example", "role": "member"}
        user = http.post(f"/v1/tenants/{tenant_id}/users", json=body).json()
        secret: str = http.post(f"/v1/users/{user['id']}/keys", json={}).json()["secret"]
        return secret


async def test_text_on_the_data_channel_comes_back_as_intelligible_audio(
    stream_server: StreamServer,
) -> None:
    async with RtcClient.connect(stream_server.url, stream_server.key, voice_id=PIPER) as client:
        started = (await client.event("started")).event
        for token in tokens(TEXT):
            await client.send("text", text=token)
        first_sound = await client.sound()
        end_sent = await client.send("end")
        done = (await client.event("done")).event
        await client.channel_closed()
    assert started is not None and started["sample_rate"] == RATE
    assert first_sound < end_sent
    spoken = sum(e["characters"] for e in client.events if e["type"] == "segment")
    assert done is not None and done["usage"]["characters"] == spoken  # all of it was heard
    assert word_error_rate(TEXT, transcribe(client.audio(), RATE)) <= 0.15
    await stream_server.settled()


async def test_start_on_the_channel_and_cancel_stop_audio_at_once(
    stream_server: StreamServer,
) -> None:
    async with RtcClient.connect(stream_server.url, stream_server.key) as client:
        await client.send("start", voice_id=PIPER)
        await client.event("started")
        await client.send("text", text=PARAGRAPH)
        first_segment = await client.event("segment")  # its audio is queued right after
        await client.sound()
        await asyncio.sleep(0.5)  # mid-sentence
        cancel_sent = await client.send("cancel")
        cancelled = await client.event("cancelled")
        await asyncio.sleep(1.0)  # listen on: nothing more should be heard
        await client.send("end")
        done = (await client.event("done")).event
    segments = [e for e in client.events if e["type"] == "segment"]
    assert max(client.loud_frames()) - cancel_sent < min(s["audio_seconds"] for s in segments)
    assert max(client.loud_frames()) - cancel_sent < LEAD_S + FRAME_S + 0.2
    # Billed audio is what was queued on the track: played, or cut (the lead, a frame
    # being queued, and the frame in flight).
    billed = cancelled.event["audio_seconds"]  # type: ignore[index]
    assert billed <= cancelled.at - first_segment.at + LEAD_S + 2 * FRAME_S + 0.05
    assert done is not None and done["usage"]["audio_seconds"] == pytest.approx(billed)
    assert done["usage"]["characters"] < len(PARAGRAPH) // 2


async def test_delete_hangs_up_and_another_tenant_or_a_colleague_cannot(
    stream_server: StreamServer, other_tenant_key: str, colleague_key: str
) -> None:
    await stream_server.settled()
    baseline = stream_server.task_count()
    async with RtcClient.connect(stream_server.url, stream_server.key, voice_id=PIPER) as client:
        await client.send("text", text=PARAGRAPH)
        await client.sound()
        path = f"{SESSIONS_PATH}/{client.session_id}"
        async with httpx.AsyncClient(base_url=stream_server.url) as http:
            assert (await http.delete(path, headers=_auth(other_tenant_key))).status_code == 404
            assert (await http.delete(path, headers=_auth(colleague_key))).status_code == 404
            assert (await http.delete(path, headers=_auth(stream_server.key))).status_code == 204
            await client.channel_closed()
            assert (await http.delete(path, headers=_auth(stream_server.key))).status_code == 404
    await stream_server.settled()
    assert stream_server.speak.pool.pending == 0
    # Nothing of the session (aiortc's transports, the track, the session) runs on.
    await until(
        lambda: stream_server.task_count() <= baseline, "the session's tasks to end", 30, every=0.02
    )


async def test_unusable_offers_are_refused_and_hold_no_stream_slot(
    stream_server: StreamServer,
) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        no_channel = await offer_sdp(pc)
    finally:
        await pc.close()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.createDataChannel("speak")
        # BUNDLE naming media that are not there: aiortc fails answering it, and then
        # closing the peer (a 500 that skipped giving the stream slot back).
        unknown_bundle = (await offer_sdp(pc)).replace("a=group:BUNDLE", "a=group:BUNDLE 7 8")
    finally:
        await pc.close()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.createDataChannel("speak")
        # An audio section the peer only sends on: aiortc would answer it and never send.
        send_only = (await offer_sdp(pc)).replace("a=recvonly", "a=sendonly")
        # No DTLS fingerprint: answered 201, then aiortc failed in a task of its own and
        # the session held its slot until the connect timeout (helper-89).
        usable = send_only.replace("a=sendonly", "a=recvonly")
        no_fingerprint = "\r\n".join(
            line for line in usable.splitlines() if not line.startswith("a=fingerprint:")
        )
        # Only the data channel's section keeps one (helper-92).
        audio_part, _, data_part = usable.partition("m=application")
        audio_unprinted = no_fingerprint.partition("m=application")[0] + "m=application" + data_part
        assert "a=fingerprint:" in audio_part and "a=fingerprint:" in data_part
    finally:
        await pc.close()
    # aiortc's parser fails on these last two with a bare AssertionError, not ValueError.
    session_head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    no_port = session_head + "m=audio\r\n"
    audio = session_head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
    short_candidate = audio + "a=candidate:1 1\r\n"
    async with httpx.AsyncClient(base_url=stream_server.url) as http:
        unusable = (
            no_channel,
            "v=0",
            no_port,
            short_candidate,
            unknown_bundle,
            send_only,
            no_fingerprint,
            audio_unprinted,
        )
        for sdp in unusable:
            body = {"sdp": sdp, "type": "offer", "voice_id": PIPER}
            response = await http.post(SESSIONS_PATH, json=body, headers=_auth(stream_server.key))
            assert response.status_code == 422
            assert response.json()["code"] == "invalid_offer"
    assert stream_server.speak.streams.count() == 0


@pytest.fixture
def quick_server(tmp_path: Path, engines: EngineRegistry) -> Iterator[StreamServer]:
    """A server whose sessions expire 2 s after the answer if the peer never connects."""
    webrtc = WebRtcSettings(connect_timeout_seconds=2)
    settings = make_settings(tmp_path, webrtc=webrtc)
    key = asyncio.run(bootstrap_key(settings.resolved_database_url))
    app = create_app(settings, engines=engines)
    with ServerThread(app) as server:
        yield StreamServer(server, app, key)


async def test_a_peer_that_never_connects_expires_and_shutdown_hangs_up(
    quick_server: StreamServer,
) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection

    server, key = quick_server, quick_server.key
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("speak")
    body = {"sdp": await offer_sdp(pc), "type": "offer", "voice_id": PIPER}
    await pc.close()  # gone before the answer: it will never connect
    async with httpx.AsyncClient(base_url=server.url, headers=_auth(key)) as http:
        response = await http.post(SESSIONS_PATH, json=body)
        assert response.status_code == 201
        path = f"{SESSIONS_PATH}/{response.json()['session_id']}"
        await asyncio.sleep(1.0)
        assert (await http.delete(path)).status_code == 204  # still waiting: hang it up
        response = await http.post(SESSIONS_PATH, json=body)
        path = f"{SESSIONS_PATH}/{response.json()['session_id']}"
        sessions = server.app.state.webrtc_sessions
        await until(lambda: len(sessions) == 0, "the unconnected session to expire", 30, every=0.02)
        assert (await http.delete(path)).status_code == 404
    async with RtcClient.connect(server.url, key, voice_id=PIPER) as client:
        server.server.__exit__(None, None, None)  # shutdown ends every session
        await client.channel_closed()


def test_a_channel_message_nested_past_the_parser_is_left_to_the_session_to_refuse() -> None:
    """It raised RecursionError in the channel's reader, which ended the session with no
    word to the peer; the session answers it as malformed JSON, as on a WebSocket."""
    from scaispeak.speak.transports.rtc_sessions import _for_track

    nested = '{"type": "text", "text": ' + "[" * 5000 + "]" * 5000 + "}"
    assert _for_track(nested) == (nested, False)


async def test_a_session_failing_as_it_ends_is_logged_and_the_hang_up_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its error reached the DELETE (a 500) and stopped close_all, skipping the rest of
    the shutdown (jobs, the pool, the database)."""
    sessions = RtcSessions()
    peer = RtcPeer(WebRtcSettings())

    async def settling_fails(stream: RtcStream) -> None:
        await stream.hang_up.wait()
        raise RuntimeError("the settlement failed")

    failing = RtcStream("rtc_1", "tnt", "usr", peer, AsyncExitStack())
    sessions.start(failing, settling_fails(failing))
    lingering = RtcStream("rtc_2", "tnt", "usr", peer, AsyncExitStack())
    sessions.start(lingering, asyncio.sleep(0))
    try:
        await sessions.close_all()
    finally:
        await peer.connection.close()
    assert len(sessions) == 0
    assert "rtc_1 failed as it ended" in caplog.text


async def test_a_session_that_fails_by_itself_is_logged_with_its_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sessions = RtcSessions()
    peer = RtcPeer(WebRtcSettings())

    async def settlement_fails() -> None:
        raise RuntimeError("the settlement failed")

    failing = RtcStream("rtc_3", "tnt", "usr", peer, AsyncExitStack())
    sessions.start(failing, settlement_fails())
    try:
        await until(lambda: len(sessions) == 0, "the session to end", 5, every=0.01)
    finally:
        await peer.connection.close()
    [logged] = [r for r in caplog.records if "rtc_3" in r.getMessage()]
    assert logged.exc_info is not None and "settlement failed" in str(logged.exc_info[1])


@pytest.mark.parametrize(
    "servers",
    [
        [{"urls": ["stun.example.com:3478"]}],  # no scheme: aiortc failed every offer on it
        [{"urls": ["stuns:stun.example.com"]}],  # aiortc skips it without a word
        [{"urls": ["turn:turn.example.com?transport=sctp"], "username": "u", "credential": "c"}],
        [{"urls": ["turn:turn.example.com"]}],  # TURN without credentials
    ],
)
def test_ice_servers_the_webrtc_stack_cannot_use_are_refused_at_start(
    servers: list[dict[str, Any]],
) -> None:
    with pytest.raises(ValidationError):
        WebRtcSettings(ice_servers=servers)


def test_usable_ice_servers_pass() -> None:
    turn = {"urls": ["turns:turn.example.com:443"], "username": "u", "credential": "c"}
    stun = {"urls": ["stun:stun.example.com:3478", "stun:stun2.example.com:3478"]}
    settings = WebRtcSettings(ice_servers=[stun, turn])
    assert [s.urls for s in settings.ice_servers] == [
        ["stun:stun.example.com:3478", "stun:stun2.example.com:3478"],
        ["turns:turn.example.com:443"],
    ]


@pytest.mark.parametrize(
    "settings",
    [
        lambda: WebRtcSettings(playout_lead_ms=-50),  # the track's put blocked for good
        lambda: WebRtcSettings(connect_timeout_seconds=0),  # every session ended at once
        lambda: StreamingSettings(frame_ms=0),  # every stream divided by zero
        lambda: StreamingSettings(idle_timeout_seconds=0),
    ],
)
def test_streaming_numbers_that_would_break_every_stream_are_refused(
    settings: Callable[[], object],
) -> None:
    with pytest.raises(ValidationError):
        settings()
