"""`/v1/audio/speech` sends speech of several segments as it is made, over a real
socket: the first audio comes before the last segment is spoken, a caller who hangs
up stops the rest (and pays for what was spoken), and an engine failing part-way
cuts the answer off unbilled."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile

from scaispeak.platform.accounting.models import UsageEntry
from scaispeak.speak.provenance.models import ProvenanceRecord
from tests.support.asr import transcribe, word_error_rate
from tests.support.gated import SEGMENTS, TEXT, Served

PRICE = 15  # selfhosted, micro-credits per character (the default)
MISHEARD = 0.2
"""Word error rate allowed: five words of TEXT's 26 (each synthesis draws new noise, and
a CI run heard "keep or climb" for "keeper climbed", 0.19); garbled audio scores near 1."""


def assert_not_buffered_by_proxies(headers: httpx.Headers) -> None:
    """nginx buffers a response unless told not to: the first audio would wait for all."""
    assert headers["x-accel-buffering"] == "no" and headers["cache-control"] == "no-cache"


def test_the_first_audio_comes_before_the_rest_is_spoken(
    served: Served, gated: dict[str, Any]
) -> None:
    with httpx.Client() as client, served.post(client, response_format="mp3") as answer:
        assert answer.status_code == 200
        assert "content-length" not in answer.headers  # chunked: sent as it is made
        assert_not_buffered_by_proxies(answer.headers)
        assert answer.headers["x-scaispeak-segments"] == str(SEGMENTS)
        chunks = answer.iter_bytes()
        first = next(chunks)
        assert first and gated["spoken"] == [0]  # the rest waits behind the gate
        gated["gate"].set()
        audio = first + b"".join(chunks)
        request_id = answer.headers["x-request-id"]
    pcm, rate = soundfile.read(io.BytesIO(audio), dtype="float32")
    assert word_error_rate(TEXT, transcribe(pcm, rate)) <= MISHEARD
    [line] = served.ledger(request_id)
    assert (line.characters, line.cost_micros) == (len(TEXT), PRICE * len(TEXT))
    assert line.audio_seconds == pytest.approx(len(pcm) / rate, abs=0.1)
    assert served.held() == []


def test_flac_which_cannot_be_streamed_is_answered_whole(
    served: Served, gated: dict[str, Any]
) -> None:
    """It was streamed: a 200, then the encoder refused FLAC and the body broke off."""
    gated["gate"].set()
    with httpx.Client() as client, served.post(client, response_format="flac") as answer:
        assert answer.status_code == 200
        assert "content-length" in answer.headers
        audio = answer.read()
    pcm, rate = soundfile.read(io.BytesIO(audio), dtype="float32")
    assert word_error_rate(TEXT, transcribe(pcm, rate)) <= MISHEARD


def test_a_caller_who_hangs_up_stops_the_rest_and_pays_for_what_was_spoken(
    served: Served, gated: dict[str, Any]
) -> None:
    with httpx.Client() as client, served.post(client, response_format="pcm") as answer:
        request_id = answer.headers["x-request-id"]
        assert next(answer.iter_bytes())
    gated["gate"].set()  # the caller has gone; the next segment is the last made

    def settled() -> list[UsageEntry]:
        return served.ledger(request_id)

    for _ in range(200):
        if settled():
            break
        threading.Event().wait(0.1)
    [line] = settled()
    assert len(gated["spoken"]) < SEGMENTS
    assert 0 < line.characters < len(TEXT)
    assert line.cost_micros == PRICE * line.characters
    assert served.held() == []


async def _cancel_responses() -> int:
    """What uvicorn does to the requests still open when a stop outlasts its grace."""
    running = [t for t in asyncio.all_tasks() if "run_asgi" in t.get_coro().__qualname__]
    for task in running:
        task.cancel()
    return len(running)


def test_a_server_stop_that_cuts_the_answer_off_bills_what_was_made(
    served: Served, gated: dict[str, Any]
) -> None:
    """The cut released the hold: a deploy gave away the speech in flight (helper-95
    heard 116 s of a 4,000-character answer, with no ledger line)."""
    with httpx.Client() as client, served.post(client, response_format="pcm") as answer:
        request_id = answer.headers["x-request-id"]
        chunks = answer.iter_bytes()
        assert next(chunks)
        assert served.server.call(_cancel_responses()) == 1
        gated["gate"].set()
        with pytest.raises(httpx.HTTPError):
            b"".join(chunks)  # the body never ends properly
    for _ in range(200):
        if served.ledger(request_id):
            break
        threading.Event().wait(0.1)
    [line] = served.ledger(request_id)
    assert 0 < line.characters < len(TEXT)
    assert line.cost_micros == PRICE * line.characters
    assert served.held() == []


def test_an_engine_failing_part_way_cuts_the_answer_off_unbilled(
    served: Served, gated: dict[str, Any]
) -> None:
    gated["fail_at"] = 1
    gated["gate"].set()
    with httpx.Client() as client, served.post(client, response_format="wav") as answer:
        request_id = answer.headers["x-request-id"]
        assert answer.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            answer.read()  # the chunked body never ends properly
    assert served.ledger(request_id) == []
    assert served.held() == []
    # Unbilled, but the audio delivered is out there: its record traces it (it had none).
    traced = served.server.call(
        served._rows(ProvenanceRecord, ProvenanceRecord.request_id == request_id)
    )
    assert len(traced) == 1


def test_one_segment_is_still_a_whole_clip_with_its_length(served: Served) -> None:
    with (
        httpx.Client() as client,
        served.post(client, input="Just one sentence.", response_format="wav") as answer,
    ):
        body = answer.read()
        assert int(answer.headers["content-length"]) == len(body)
        assert answer.headers["x-scaispeak-segments"] == "1"


def read_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line:
            yield json.loads(line.removeprefix("data: "))


def test_server_sent_events_come_as_the_speech_is_made(
    served: Served, gated: dict[str, Any]
) -> None:
    with (
        httpx.Client() as client,
        served.post(client, response_format="pcm", stream_format="sse") as answer,
    ):
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert_not_buffered_by_proxies(answer.headers)
        events = read_events(answer.iter_lines())
        first = next(events)
        assert first["type"] == "speech.audio.delta" and gated["spoken"] == [0]
        gated["gate"].set()
        *rest, done = list(events)
        request_id = answer.headers["x-request-id"]
    audio = b"".join(base64.b64decode(e["audio"]) for e in [first, *rest])
    pcm = np.frombuffer(audio, "<i2").astype(np.float32) / 32768
    assert word_error_rate(TEXT, transcribe(pcm, 24000)) <= MISHEARD
    assert done["type"] == "speech.audio.done" and done["characters"] == len(TEXT)
    assert done["audio_seconds"] == pytest.approx(len(pcm) / 24000, abs=0.05)
    [line] = served.ledger(request_id)
    assert (line.characters, line.cost_micros) == (len(TEXT), PRICE * len(TEXT))
    assert done["cost_micros"] == line.cost_micros


def test_an_engine_failing_part_way_is_an_error_event_unbilled(
    served: Served, gated: dict[str, Any]
) -> None:
    """The event stream ends properly, its last event saying why (the plain audio
    answer is cut off instead)."""
    gated["fail_at"] = 1
    gated["gate"].set()
    with (
        httpx.Client() as client,
        served.post(client, response_format="pcm", stream_format="sse") as answer,
    ):
        events = list(read_events(answer.iter_lines()))
        request_id = answer.headers["x-request-id"]
    assert events[0]["type"] == "speech.audio.delta"
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "backend_unavailable"
    assert served.ledger(request_id) == []
    assert served.held() == []
