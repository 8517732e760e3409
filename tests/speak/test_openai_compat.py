"""The official `openai` client, unmodified, against a real server socket."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
import soundfile

from scaispeak.app import create_app
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import make_settings
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
    assert word_error_rate(text, transcribe(pcm, rate)) <= 0.1


def test_openai_pcm_is_24khz_s16le(server_with_key: tuple[str, str]) -> None:
    url, key = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key)
    response = client.audio.speech.create(
        model="tts-1", voice="voc_kokoro_jf-alpha", input="Raw samples.", response_format="pcm"
    )
    pcm = np.frombuffer(response.content, dtype="<i2").astype(np.float32) / 32768
    assert 0.4 < len(pcm) / 24000 < 3.0
    assert np.abs(pcm).max() > 0.05


def test_openai_client_sees_auth_errors(server_with_key: tuple[str, str]) -> None:
    url, _ = server_with_key
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="ssk_000000000000_wrong")
    with pytest.raises(openai.AuthenticationError):
        client.audio.speech.create(model="tts-1", voice="alloy", input="No.")
