"""The WebSocket stream over a real socket: audio, barge-in, fairness, limits and errors."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json

import av
import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from scaispeak.platform.body_limits import WEBSOCKET_MESSAGE_MAX_BYTES
from scaispeak.speak.streaming.permit import StreamPermit
from scaispeak.speak.streaming.protocol import MAX_MESSAGE_CHARS
from tests.speak.streaming.conftest import PIPER, STREAM_CAP, StreamServer, pcm_samples, tokens
from tests.support.asr import transcribe, word_error_rate
from tests.support.polling import until
from tests.support.stream_client import StreamClient

TEXT = (
    "The quick brown fox jumps over the lazy dog. Streaming speech should sound "
    "natural, even when the text arrives one small token at a time."
)
PARAGRAPH = " ".join(
    f"This is sentence {n} of a long answer, and it keeps the voice busy for a while."
    for n in range(1, 13)
)


async def test_token_by_token_text_is_intelligible(stream_server: StreamServer) -> None:
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER, format="pcm", sample_rate=16000)
        await client.send_tokens(tokens(TEXT))
        await client.send("end")
        done = (await client.event("done")).event
        assert await client.closed() == 1000
    assert done is not None
    pcm = pcm_samples(client.audio())
    assert done["usage"]["audio_seconds"] == pytest.approx(len(pcm) / 16000)
    assert word_error_rate(TEXT, transcribe(pcm, 16000)) <= 0.15


async def test_first_audio_arrives_before_end_is_sent(stream_server: StreamServer) -> None:
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER)
        await client.send_tokens(tokens("Hello there, this sentence is still being written"))
        first = await client.first_audio()
        end_sent = await client.send("end")
        await client.event("done")
    assert first.at < end_sent


async def test_opus_stream_decodes_to_intelligible_audio(stream_server: StreamServer) -> None:
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER, format="opus", sample_rate=48000)
        started = (await client.event("started")).event
        await client.send_tokens(tokens(TEXT))
        await client.send("end")
        done = (await client.event("done")).event
    assert started is not None and started["content_type"] == "audio/ogg; codecs=opus"
    with av.open(io.BytesIO(client.audio())) as container:
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    assert done is not None
    assert len(pcm) / 48000 == pytest.approx(done["usage"]["audio_seconds"], abs=0.1)
    assert word_error_rate(TEXT, transcribe(pcm, 48000)) <= 0.15


def _expected_characters(client: StreamClient, upto: int, rate: int) -> int:
    """Characters the billing rule owes for the audio received before message ``upto``."""
    billed, segment, got = 0, None, 0
    for received in [*client.received[:upto], None]:
        event = received.event if received else None
        if received is None or (event and event["type"] == "segment"):
            if segment is not None:
                samples = round(segment["audio_seconds"] * rate)
                billed += segment["characters"] * min(got, samples) // samples
            segment, got = event, 0
        elif received.audio:
            got += len(received.audio) // 2
    return billed


async def test_cancel_stops_audio_within_one_segment_and_bills_what_was_received(
    stream_server: StreamServer,
) -> None:
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER, format="pcm")
        rate = (await client.event("started")).event["sample_rate"]  # type: ignore[index]
        await client.send("text", text=PARAGRAPH)
        await client.first_audio()
        cancel_sent = await client.send("cancel")
        cancelled = await client.event("cancelled")
        await client.send("end")
        done = (await client.event("done")).event
    at = client.received.index(cancelled)
    assert not any(r.audio for r in client.received[at:]), "audio after the cancelled event"
    segments = [e for e in client.events if e["type"] == "segment"]
    longest = max(s["audio_seconds"] for s in segments)
    assert len(client.audio(since=cancel_sent)) / 2 / rate <= longest
    assert cancelled.event is not None and done is not None
    received_s = len(client.audio()) / 2 / rate
    assert cancelled.event["audio_seconds"] == pytest.approx(received_s)
    assert cancelled.event["characters"] == _expected_characters(client, at, rate)
    assert cancelled.event["characters"] < len(PARAGRAPH) // 2
    assert done["usage"]["characters"] == cancelled.event["characters"]
    assert done["usage"]["audio_seconds"] == pytest.approx(received_s)


async def test_disconnect_mid_stream_leaves_no_work_behind(stream_server: StreamServer) -> None:
    await stream_server.settled()
    baseline = stream_server.task_count()
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER)
        await client.send("text", text=PARAGRAPH)
        await client.first_audio()
        client.ws.transport.abort()  # the client vanishes: no close handshake
    await stream_server.settled()
    await until(
        lambda: stream_server.task_count() <= baseline, "the handler's tasks to end", 30, every=0.02
    )
    assert stream_server.task_count() == baseline
    assert stream_server.speak.pool.pending == 0


async def test_a_long_paragraph_does_not_starve_another_streams_first_clause(
    stream_server: StreamServer,
) -> None:
    await stream_server.settled()
    url, key = stream_server.url, stream_server.key
    async with StreamClient.connect(url, key=key) as long, StreamClient.connect(url, key=key) as b:
        await long.send("start", voice_id=PIPER)
        await long.send("text", text=PARAGRAPH)
        await long.send("end")
        await long.first_audio()
        await b.send("start", voice_id=PIPER)
        await b.send_tokens(tokens("Sure, here is a quick answer."))
        flushed = await b.send("flush")  # the end of a turn: speak it now
        b_first = await b.first_audio()
        # Heard while the paragraph is still going (it is sent as it is heard).
        assert not any(e["type"] == "done" for e in long.events)
        await long.send("cancel")
        await b.send("end")
    assert b_first.at - flushed < 5.0


async def test_a_tenant_over_its_stream_cap_gets_too_many_streams(
    stream_server: StreamServer,
) -> None:
    await stream_server.settled()
    url, key = stream_server.url, stream_server.key
    clients = [StreamClient.connect(url, key=key) for _ in range(STREAM_CAP + 1)]
    opened = [await c.__aenter__() for c in clients[:STREAM_CAP]]
    try:
        for client in opened:
            await client.send("start", voice_id=PIPER)
            await client.event("started")
        async with clients[-1] as refused:
            error = (await refused.event("error")).event
            assert await refused.closed() == 4429
    finally:
        for c in clients[:STREAM_CAP]:
            await c.__aexit__(None, None, None)
    assert error is not None
    assert (error["code"], error["status"], error["fatal"]) == ("too_many_streams", 429, True)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        pytest.param("{not json", "malformed_json", id="malformed_json"),
        pytest.param(  # was a RecursionError: a fatal 500 that ended the stream
            '{"type": "text", "text": ' + "[" * 5000 + "]" * 5000 + "}",
            "malformed_json",
            id="nested_past_the_parser",
        ),
        pytest.param({"type": "text", "text": "Hi."}, "not_started", id="text_before_start"),
        pytest.param({"type": "start", "voice_id": "voc_nobody"}, "unknown_voice", id="voice"),
        pytest.param(
            {"type": "start", "voice_id": PIPER, "format": "flac"},
            "unsupported_format",
            id="format_that_cannot_stream",
        ),
        pytest.param(
            {"type": "start", "voice_id": PIPER, "format": "aiff"},
            "unsupported_format",
            id="unknown_format",
        ),
        pytest.param(
            {"type": "start", "voice_id": PIPER, "format": "mulaw", "sample_rate": 16000},
            "unsupported_sample_rate",
            id="sample_rate",
        ),
        pytest.param({"type": "start"}, "invalid_message", id="missing_voice"),
        pytest.param(
            {"type": "start", "voice_id": PIPER, "speed": True}, "invalid_message", id="bool_speed"
        ),
        pytest.param(
            {"type": "start", "voice_id": PIPER, "sample_rate": 16000.0},
            "invalid_message",
            id="float_rate",
        ),
        pytest.param({"type": "shout"}, "unknown_message_type", id="unknown_type"),
        pytest.param(
            {"type": "text", "text": "x" * (MAX_MESSAGE_CHARS + 1)},
            "message_too_large",
            id="message_too_large",
        ),
        pytest.param(
            {"type": "cancel", **{f"k{i}": 0 for i in range(40)}},
            "invalid_message",
            id="too_many_fields",
        ),
    ],
)
async def test_bad_messages_get_error_events_and_the_stream_stays_usable(
    stream_server: StreamServer, message: str | dict[str, object], code: str
) -> None:
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.ws.send(message if isinstance(message, str) else json.dumps(message))
        error = (await client.event("error")).event
        await client.send("start", voice_id=PIPER)
        await client.event("started")
    assert error is not None
    assert (error["code"], error["fatal"]) == (code, False)


async def test_a_message_too_large_to_read_closes_the_connection_unread(
    stream_server: StreamServer,
) -> None:
    """uvicorn buffers a message up to 16 MiB by default before the app sees it; one of
    them, or a dict of a million keys, held the event loop (and every stream on it)
    for seconds. Past ``WEBSOCKET_MESSAGE_MAX_BYTES`` the server closes (1009)."""
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER)
        await client.event("started")
        too_large = json.dumps({"type": "text", "text": "x" * WEBSOCKET_MESSAGE_MAX_BYTES})
        with contextlib.suppress(ConnectionClosed):  # the server may close mid-send
            await client.ws.send(too_large)
        assert await client.closed() == 1009


async def test_a_browser_token_in_the_query_authenticates(stream_server: StreamServer) -> None:
    async with httpx.AsyncClient(base_url=stream_server.url) as http:
        response = await http.post(
            "/v1/auth/tokens", json={}, headers={"Authorization": f"Bearer {stream_server.key}"}
        )
    token = response.json()["token"]
    async with StreamClient.connect(stream_server.url, token=token) as client:
        await client.send("start", voice_id=PIPER)
        assert (await client.event("started")).event is not None


async def test_an_api_key_in_the_query_is_refused(stream_server: StreamServer) -> None:
    async with StreamClient.connect(stream_server.url, token=stream_server.key) as client:
        error = (await client.event("error")).event
        assert await client.closed() == 4401
    assert error is not None and error["code"] == "unauthorized"
    assert "not accepted in the URL" in error["detail"]


async def test_a_connection_without_credentials_is_refused(stream_server: StreamServer) -> None:
    async with StreamClient.connect(stream_server.url) as client:
        error = (await client.event("error")).event
        assert await client.closed() == 4401
    assert error is not None and error["code"] == "unauthorized"


async def test_an_emoji_sent_in_two_utf16_halves_is_one_character_and_a_lone_half_is_refused(
    stream_server: StreamServer,
) -> None:
    """JavaScript slices strings by UTF-16 units, so a token boundary can fall inside an
    emoji: JSON then carries "\\ud83c" in one message and "\\udf89" in the next."""
    text = "The party starts now \ud83c\udf89 and everyone is invited."
    cut = text.index("\udf89")
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER, format="pcm", sample_rate=16000)
        await client.send("text", text=text[:cut])
        await client.send("text", text=text[cut:])
        await client.send("text", text=" Oops \udf89 here.")
        refused = (await client.event("error")).event
        await client.send("end")
        await client.event("done")
        assert await client.closed() == 1000
    assert refused is not None
    assert (refused["code"], refused["status"], refused["fatal"]) == ("invalid_text", 422, False)
    heard = transcribe(pcm_samples(client.audio()), 16000).lower()
    assert "invited" in heard and "oops" not in heard


async def test_a_segment_with_nothing_to_read_aloud_is_neither_spoken_nor_billed(
    stream_server: StreamServer,
) -> None:
    """/speak refuses an emoji-only text (empty_text); a stream leaves such a piece
    unsaid instead of sending silence and charging its characters."""
    async with StreamClient.connect(stream_server.url, key=stream_server.key) as client:
        await client.send("start", voice_id=PIPER, format="pcm", sample_rate=16000)
        await client.send("text", text="The lighthouse keeper climbed the stairs.")
        await client.send("flush")
        await client.send("text", text="\U0001f389\U0001f389\U0001f389 \u2728\u2728")
        await client.send("flush")
        await client.send("end")
        done = (await client.event("done")).event
    assert done is not None
    spoken = [e["text"] for e in client.events if e["type"] == "segment"]
    assert spoken == ["The lighthouse keeper climbed the stairs."], spoken
    assert done["usage"]["characters"] == len("The lighthouse keeper climbed the stairs.")


async def test_a_stream_whose_key_is_revoked_ends_at_its_next_segment(
    stream_server: StreamServer,
) -> None:
    """``start`` checked the key once; a stream may talk for hours after that."""
    async with httpx.AsyncClient(base_url=stream_server.url) as http:
        root = {"Authorization": f"Bearer {stream_server.key}"}
        me = (await http.get("/v1/auth/me", headers=root)).json()
        made = (await http.post(f"/v1/users/{me['user_id']}/keys", json={}, headers=root)).json()
        async with StreamClient.connect(stream_server.url, key=made["secret"]) as client:
            await client.send("start", voice_id=PIPER, format="pcm", sample_rate=16000)
            await client.send("text", text="The first sentence is spoken.")
            await client.send("flush")
            await client.first_audio()
            revoked = await http.delete(f"/v1/keys/{made['id']}", headers=root)
            assert revoked.status_code == 200, revoked.text
            await asyncio.sleep(StreamPermit.every_s + 0.5)  # the permit is read again then
            await client.send("text", text="The second sentence must not be.")
            await client.send("flush")
            error = (await client.event("error")).event
            assert await client.closed() == 4401
    assert error is not None and (error["code"], error["fatal"]) == ("unauthorized", True)
    spoken = [e["text"] for e in client.events if e["type"] == "segment"]
    assert spoken == ["The first sentence is spoken."]


async def test_a_query_token_that_is_no_token_is_not_called_an_api_key(
    stream_server: StreamServer,
) -> None:
    async with StreamClient.connect(stream_server.url, token="garbage") as client:
        error = (await client.event("error")).event
        assert await client.closed() == 4401
    assert error is not None and error["code"] == "unauthorized"
    assert "API key" not in error["detail"] and "browser token" in error["detail"]
