"""What text reaches a relay's upstream: the segment as written (the upstream reads it
its own way, and bills the characters our tenant is billed for), and nothing at all for
a segment with nothing to say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.engines.registry import EngineRegistry
from scaispeak.speak.engines.relay import RelayEngine
from tests.speak.test_backends import speak
from tests.support.relay import Upstream, put_policy, relaying_app


@pytest.fixture
def upstream_inputs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each text the relay sends its upstream, in order."""
    sent: list[str] = []
    original = RelayEngine.synthesize_async

    async def recorded(self: RelayEngine, text: str, voice: str, **kw: Any) -> Pcm:
        sent.append(text)
        return await original(self, text, voice, **kw)

    monkeypatch.setattr(RelayEngine, "synthesize_async", recorded)
    return sent


async def test_a_paragraph_of_emoji_is_silence_not_an_empty_upstream_call(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream, upstream_inputs: list[str]
) -> None:
    # The upstream refuses empty input (422), which failed the whole request with 502.
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key) as app:
        await put_policy(app, ["relay"], "relay", failover=False)
        text = "Thanks for your order, it ships tomorrow.\n\n" + "\U0001f389" * 13
        response = await speak(app, text)
        assert response.status_code == 200, response.text
        assert response.headers["x-scaispeak-backend"] == "relay"
        assert upstream_inputs == ["Thanks for your order, it ships tomorrow."]


async def test_the_upstream_is_sent_the_text_as_written_not_our_expansion(
    tmp_path: Path, engines: EngineRegistry, upstream: Upstream, upstream_inputs: list[str]
) -> None:
    # Normalised, "©" is "copyright" and the sum is 60 characters of words: the upstream
    # billed the front up to 10 times what its tenant paid.
    async with relaying_app(tmp_path, engines, upstream.url, upstream.key) as app:
        await put_policy(app, ["relay"], "relay", failover=False)
        text = "It costs $9,999.99 © 2026."
        response = await speak(app, text, format="mp3")
        assert response.status_code == 200, response.text
        assert upstream_inputs == [text]
