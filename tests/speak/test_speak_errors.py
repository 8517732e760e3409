"""Bad input to /speak and /v1/audio/speech: each a clear 4xx problem, no audio."""

from __future__ import annotations

import json
import re

import pytest

from scaispeak.settings import Limits
from scaispeak.speak.errors import UnsupportedSampleRate
from scaispeak.speak.synthesis import audio
from scaispeak.speak.synthesis.service import choose_sample_rate
from tests.conftest import LiveApp
from tests.platform.test_auth import assert_problem

SPEAK = "/v1/modules/scaispeak/speak"
JOE = "voc_piper_en-us-joe-medium"


async def speak(app: LiveApp, body: object, **headers: str) -> object:
    return await app.client.post(
        SPEAK, json=body, headers={**app.auth(app.tenancy.member_a), **headers}
    )


@pytest.mark.parametrize("text", ["", "   \n\t "])
async def test_empty_text_is_422(sqlite_app: LiveApp, text: str) -> None:
    assert_problem(await speak(sqlite_app, {"text": text, "voice_id": JOE}), 422, "empty_text")


@pytest.mark.parametrize("mode", ["inline", "async"])
@pytest.mark.parametrize(
    "text",
    [
        "🙂🙂",
        "★★★ ✅",
        "** **",
        "...",
        "<speak></speak>",
        '<p> <break time="1s"/> </p>',
        "你好世界",
    ],
)
async def test_text_with_nothing_to_read_aloud_is_422_not_silence(
    sqlite_app: LiveApp, text: str, mode: str
) -> None:
    response = await speak(sqlite_app, {"text": text, "voice_id": JOE, "mode": mode})
    assert_problem(response, 422, "empty_text")
    assert "nothing to read aloud" in response.json()["detail"]  # type: ignore[attr-defined]


async def test_text_over_inline_limit_in_inline_mode_is_413_with_the_limit(
    sqlite_app: LiveApp,
) -> None:
    limit = sqlite_app.app.state.platform.settings.limits.inline_max_chars
    body = {"text": "a" * (limit + 1), "voice_id": JOE, "mode": "inline"}
    response = await speak(sqlite_app, body)
    assert_problem(response, 413, "text_too_long")
    assert response.json()["limit"] == limit  # type: ignore[attr-defined]


async def test_unknown_voice_is_404(sqlite_app: LiveApp) -> None:
    response = await speak(sqlite_app, {"text": "Hello.", "voice_id": "voc_nope"})
    assert_problem(response, 404, "unknown_voice")


async def test_unknown_format_is_422_listing_formats(sqlite_app: LiveApp) -> None:
    response = await speak(sqlite_app, {"text": "Hello.", "voice_id": JOE, "format": "aiff"})
    assert_problem(response, 422, "unsupported_format")
    assert "mp3" in response.json()["detail"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fmt", "rate"), [("wav", 12345), ("mulaw", 16000), ("opus", 22050), ("wav", -1)]
)
async def test_bad_sample_rate_is_422(sqlite_app: LiveApp, fmt: str, rate: int) -> None:
    body = {"text": "Hello.", "voice_id": JOE, "format": fmt, "sample_rate": rate}
    assert_problem(await speak(sqlite_app, body), 422, "unsupported_sample_rate")


@pytest.mark.parametrize("speed", [0.1, 5.0])
async def test_speed_out_of_range_is_422(sqlite_app: LiveApp, speed: float) -> None:
    body = {"text": "Hello.", "voice_id": JOE, "speed": speed}
    assert_problem(await speak(sqlite_app, body), 422, "invalid_speed")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"text": "Hello", "voice_id": ', id="truncated"),
        # The parser raises other than a syntax error on these; they were http_error.
        pytest.param(b'{"text": "caf\xe9"}', id="not_utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested_too_deep"),
        pytest.param(b'{"speed": ' + b"9" * 5000 + b"}", id="integer_of_5000_digits"),
    ],
)
async def test_malformed_json_is_400(sqlite_app: LiveApp, body: bytes) -> None:
    response = await sqlite_app.client.post(
        SPEAK,
        content=body,
        headers={
            **sqlite_app.auth(sqlite_app.tenancy.member_a),
            "content-type": "application/json",
        },
    )
    assert_problem(response, 400, "malformed_json")


async def test_missing_field_is_422_validation_error(sqlite_app: LiveApp) -> None:
    assert_problem(await speak(sqlite_app, {"text": "Hello."}), 422, "validation_error")


@pytest.mark.parametrize("wrong", [{"speed": True}, {"sample_rate": 16000.0}, {"speed": "1.2"}])
async def test_a_speed_or_rate_of_the_wrong_type_is_422(
    sqlite_app: LiveApp, wrong: dict[str, object]
) -> None:
    """`true` is no speed and 16000.0 no rate: a client's bug, named rather than guessed."""
    body = {"text": "Hello.", "voice_id": JOE, **wrong}
    assert_problem(await speak(sqlite_app, body), 422, "validation_error")


async def test_missing_key_is_401(sqlite_app: LiveApp) -> None:
    response = await sqlite_app.client.post(SPEAK, json={"text": "Hello.", "voice_id": JOE})
    assert_problem(response, 401, "unauthorized")


async def test_openai_endpoint_applies_its_own_limit(sqlite_app: LiveApp) -> None:
    response = await sqlite_app.client.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "input": "a" * 4097, "voice": "alloy"},
        headers=sqlite_app.auth(sqlite_app.tenancy.member_a),
    )
    assert_problem(response, 413, "text_too_long")


async def test_text_over_the_job_limit_is_413(sqlite_app: LiveApp) -> None:
    limit = sqlite_app.app.state.platform.settings.jobs.max_chars
    response = await speak(sqlite_app, {"text": "a" * (limit + 1), "voice_id": JOE})
    assert_problem(response, 413, "text_too_long")


async def test_expired_licence_blocks_synthesis_with_451(sqlite_app: LiveApp) -> None:
    from datetime import timedelta

    from scaispeak.platform.db import utcnow
    from scaispeak.speak.voices.models import Licence, Voice

    async with sqlite_app.app.state.platform.db.sessions() as session:
        voice = await session.get(Voice, JOE)
        assert voice is not None and voice.licence_id
        licence = await session.get(Licence, voice.licence_id)
        assert licence is not None
        licence.valid_until = utcnow() - timedelta(days=1)
        await session.commit()
    response = await speak(sqlite_app, {"text": "Hello.", "voice_id": JOE})
    assert_problem(response, 451, "voice_licence_expired")


async def test_text_with_half_a_utf16_pair_is_422_not_a_failed_synthesis(
    sqlite_app: LiveApp,
) -> None:
    escaped = json.dumps({"text": "Hello \ud800 there", "voice_id": JOE})  # "\\ud800"
    headers = {**sqlite_app.auth(sqlite_app.tenancy.member_a), "content-type": "application/json"}
    response = await sqlite_app.client.post(SPEAK, content=escaped, headers=headers)
    assert_problem(response, 422, "invalid_text")


@pytest.mark.parametrize("voice", [JOE, "voc_kokoro_jf-alpha"])
async def test_control_characters_are_read_as_spaces(sqlite_app: LiveApp, voice: str) -> None:
    """A stray NUL (an LLM's token) failed the request: 500, "embedded null character"."""
    answer = await speak(
        sqlite_app, {"text": "Hello\x00 there,\x1b how are you?", "voice_id": voice}
    )
    assert answer.status_code == 200, answer.text
    assert int(answer.headers["x-scaispeak-characters"]) == len("Hello\x00 there,\x1b how are you?")


@pytest.mark.parametrize("fmt", ["opus", "mulaw", "mp3", "wav"])
def test_a_refused_rate_names_only_rates_the_format_then_takes(fmt: str) -> None:
    """opus at 44100 Hz listed 8000, 12000, ... (Opus's own rates): 12000 was then
    refused, as not offered here."""
    limits = Limits()
    with pytest.raises(UnsupportedSampleRate) as refused:
        choose_sample_rate(audio.AudioFormat(fmt), 12_345, 22_050, limits)
    listed = [int(n) for n in re.findall(r"\d{4,}", str(refused.value).split("use one of")[1])]
    assert listed
    for rate in listed:
        assert choose_sample_rate(audio.AudioFormat(fmt), rate, 22_050, limits) == rate


async def test_an_overlong_voice_id_is_refused_without_being_echoed(sqlite_app: LiveApp) -> None:
    """An unknown voice's 404 names it: a 100,000-character id came back whole."""
    long_id = "voc_" + "x" * 100_000
    response = await speak(sqlite_app, {"text": "Hello.", "voice_id": long_id})
    assert_problem(response, 422, "validation_error")
    assert len(response.content) < 5_000  # type: ignore[attr-defined]
    openai = await sqlite_app.client.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "input": "Hello.", "voice": {"id": long_id}},
        headers=sqlite_app.auth(sqlite_app.tenancy.member_a),
    )
    assert openai.status_code == 422 and len(openai.content) < 5_000
