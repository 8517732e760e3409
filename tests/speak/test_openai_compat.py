"""The official `openai` client, unmodified, against a real server socket."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import soundfile

from scaispeak.app import create_app
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.transports import openai_compat
from tests.conftest import LiveApp, make_settings
from tests.support.asr import transcribe, word_error_rate
from tests.support.server import ServerThread, bootstrap_key


@pytest.fixture(scope="module")
def server_with_key(
    tmp_path_factory: pytest.TempPathFactory, engines: EngineRegistry
) -> Iterator[tuple[str, str]]:
    settings = make_settings(Path(tmp_path_factory.mktemp("openai")))
    key = asyncio.run(bootstrap_key(settings.resolved_database_url))
    with ServerThread(create_app(settings, engines=engines)) as server:
        yield server.url, key


def test_openai_client_speaks_through_our_endpoint(server_with_key: tuple[str, str]) -> None:
    url, key = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    text = "The quick brown fox jumps over the lazy dog."
    response = client.audio.speech.create(
        model="tts-1", voice="onyx", input=text, response_format="wav"
    )
    pcm, rate = soundfile.read(io.BytesIO(response.content), dtype="float32")
    assert word_error_rate(text, transcribe(pcm, rate)) <= 0.12  # one word of nine


def test_openai_pcm_is_24khz_s16le(server_with_key: tuple[str, str]) -> None:
    url, key = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    response = client.audio.speech.create(
        model="tts-1", voice="voc_kokoro_jf-alpha", input="Raw samples.", response_format="pcm"
    )
    pcm = np.frombuffer(response.content, dtype="<i2").astype(np.float32) / 32768
    assert 0.4 < len(pcm) / 24000 < 3.0
    assert np.abs(pcm).max() > 0.05


@pytest.mark.parametrize("named", ["PCM", "Pcm"])
def test_openai_pcm_named_in_any_case_is_24khz(
    server_with_key: tuple[str, str], named: str
) -> None:
    """Accepted as PCM, it came at the engine's own rate (22.05 kHz for Piper)."""
    url, key = server_with_key
    body = {"model": "tts-1", "voice": "onyx", "input": "Raw.", "response_format": named}
    answer = httpx.post(
        f"{url}/v1/audio/speech", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-scaispeak-sample-rate"] == "24000"


def test_openai_client_sees_auth_errors(server_with_key: tuple[str, str]) -> None:
    url, _ = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="ssk_000000000000_wrong")
    with pytest.raises(openai.AuthenticationError):
        client.audio.speech.create(model="tts-1", voice="alloy", input="No.")


def test_openai_client_shows_our_error_message(server_with_key: tuple[str, str]) -> None:
    """The client prints body["error"]["message"]; without it, only "Error code: 413"."""
    url, key = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    with pytest.raises(openai.APIStatusError) as raised:
        client.audio.speech.create(model="tts-1", voice="alloy", input="x" * 5000)
    assert raised.value.status_code == 413
    assert "the limit here is 4096" in raised.value.message
    assert raised.value.code == "text_too_long" and raised.value.param == "input"
    assert raised.value.type == "invalid_request_error"


def test_openai_errors_stay_problem_json(server_with_key: tuple[str, str]) -> None:
    url, _ = server_with_key
    response = httpx.post(
        f"{url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": "No key."},
        headers={"Authorization": "Bearer ssk_000000000000_wrong"},
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "unauthorized" and body["status"] == 401
    assert body["error"] == {
        "message": body["detail"],
        "type": "invalid_request_error",
        "param": None,
        "code": "unauthorized",
    }
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("speed", [0.25, 4.0])
def test_speed_within_openais_range_but_outside_ours_names_our_range(
    server_with_key: tuple[str, str], speed: float
) -> None:
    """Refused rather than clamped: the caller asked for a rate we would not deliver."""
    url, key = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", speed=speed)
    assert "between 0.5 and 2.0" in raised.value.message
    assert raised.value.param == "speed"


def test_aac_is_not_offered_and_the_error_lists_what_is(server_with_key: tuple[str, str]) -> None:
    url, key = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="aac")
    assert "mp3, opus, flac" in raised.value.message
    assert raised.value.code == "unsupported_format"
    assert raised.value.param == "response_format"


def test_validation_errors_carry_the_openai_error_object(server_with_key: tuple[str, str]) -> None:
    url, key = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client.post("/audio/speech", body={"model": "tts-1", "voice": "alloy"}, cast_to=bytes)
    assert "input" in raised.value.message
    assert raised.value.code == "validation_error"
    assert raised.value.param == "input"


@pytest.mark.parametrize("voice", ["marin", "cedar", {"id": "voc_piper_en-us-joe-medium"}])
def test_the_clients_newer_voice_names_and_its_custom_voice_form_are_spoken(
    server_with_key: tuple[str, str], voice: object
) -> None:
    """marin and cedar were 404 unknown_voice; ``{"id": ...}`` (how the client names a
    custom voice) was a 422."""
    url, key = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    response = client.audio.speech.create(
        model="gpt-4o-mini-tts",
        voice=voice,
        input="Hello there.",
        response_format="wav",
    )
    pcm, _ = soundfile.read(io.BytesIO(response.content), dtype="float32")
    assert pcm.size > 0


def test_server_sent_events_carry_the_audio_and_its_usage(
    server_with_key: tuple[str, str],
) -> None:
    """The SDK types an event stream as bytes; a client parses the events itself."""
    url, key = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    text = "Hello there."
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="alloy",
        input=text,
        response_format="wav",
        stream_format="sse",
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read())
    *deltas, last = events
    assert {e["type"] for e in deltas} == {"speech.audio.delta"}
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    pcm, rate = soundfile.read(io.BytesIO(audio), dtype="float32")
    assert word_error_rate(text, transcribe(pcm, rate)) <= 0.2
    assert last["type"] == "speech.audio.done"
    assert last["usage"] == {
        "input_tokens": len(text),
        "output_tokens": 0,
        "total_tokens": len(text),
    }
    assert last["audio_seconds"] == pytest.approx(len(pcm) / rate, abs=0.01)


def sse_events(body: bytes) -> list[dict[str, Any]]:
    """The ``data:`` payloads of an event stream, in order."""
    blocks = body.decode().split("\n\n")
    assert blocks[-1] == ""  # the stream ends after a whole event
    return [json.loads(b.removeprefix("data: ")) for b in blocks[:-1]]


def test_a_body_that_is_not_json_names_no_field(server_with_key: tuple[str, str]) -> None:
    url, key = server_with_key
    response = httpx.post(
        f"{url}/v1/audio/speech",
        content=b'{"model": "tts-1", "voice"',
        headers={"Authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["code"] == "malformed_json"
    assert response.json()["error"]["param"] is None  # was "1", the error's position


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        ({"data": {"input": "hi"}}, 415, "unsupported_media_type"),  # curl -d
        (
            {"content": b"hi", "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ({"files": {"input": (None, "hi")}}, 415, "unsupported_media_type"),  # curl -F
        ({"headers": {"content-type": "application/json"}}, 400, "malformed_json"),
        ({}, 415, "unsupported_media_type"),
    ],
)
def test_a_body_sent_as_the_wrong_kind_is_answered_as_on_speak(
    server_with_key: tuple[str, str], send: dict[str, Any], status: int, code: str
) -> None:
    """docs/errors.md's 415 and empty-body 400, as /speak answers them: this route's
    own error wrapper answered them all 422 validation_error (helper-93)."""
    url, key = server_with_key
    auth = {"Authorization": f"Bearer {key}"}
    send = {**send, "headers": {**auth, **send.get("headers", {})}}
    response = httpx.post(f"{url}/v1/audio/speech", **send)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.json()["error"]["code"] == code


async def test_an_unexpected_failure_still_carries_the_openai_error_object(
    sqlite_app: LiveApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """OpenAI's clients read ``error``; a 500 without it showed them the raw body."""

    async def a_bug(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(openai_compat, "speak_inline", a_bug)
    response = await sqlite_app.client.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": "Hello."},
        headers=sqlite_app.auth(sqlite_app.tenancy.member_a),
    )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "internal_error" and "a bug" not in response.text
    assert body["error"]["type"] == "server_error" and body["error"]["message"]
    assert "unhandled error on /v1/audio/speech" in caplog.text
