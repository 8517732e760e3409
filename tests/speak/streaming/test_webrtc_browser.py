"""The demo page in a real browser: Debian's Chromium, headless, driven by Playwright.

It loads /stream/demo from the real server with a browser token, negotiates WebRTC,
and must hear the voice (the page's AnalyserNode and the receiver's getStats), then
barge in and hear it stop. Only Debian's /usr/bin/chromium is used (never a browser
Playwright downloads); without it the test skips locally and fails in CI (.ci/run
installs it).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.speak.streaming.conftest import StreamServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
DEMO_PATH = "/v1/modules/scaispeak/stream/demo"
SOUND_FLOOR = 0.01
"""RMS above which the page hears speech (the voice is levelled to about -20 LUFS)."""
SILENCE = 0.002
PARAGRAPH = " ".join(
    f"This is sentence {n} of a long answer, read aloud in a browser." for n in range(1, 9)
)

if not CHROMIUM.exists() and not os.environ.get("CI"):
    pytest.skip(
        f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does); CI never skips",
        allow_module_level=True,
    )


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "profile",  # a fresh user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield context.pages[0] if context.pages else await context.new_page()
        finally:
            await context.close()


async def _browser_token(server: StreamServer) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/v1/auth/tokens", json={}, headers={"Authorization": f"Bearer {server.key}"}
        )
    token: str = response.json()["token"]
    return token


async def _loudest(page: Any, seconds: float) -> float:
    """The highest level the page measures over the next ``seconds``."""
    script = """async (ms) => {
        let loudest = 0;
        for (const end = performance.now() + ms; performance.now() < end; ) {
            loudest = Math.max(loudest, window.scaispeakDemo.rms());
            await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return loudest;
    }"""
    level: float = await page.evaluate(script, seconds * 1000)
    return level


async def test_demo_page_plays_speech_over_webrtc_and_barge_in_stops_it(
    stream_server: StreamServer, page: Any
) -> None:
    token = await _browser_token(stream_server)
    await page.goto(f"{stream_server.url}{DEMO_PATH}?token={token}")
    await page.click("#connect")
    await page.wait_for_function("window.scaispeakDemo.state === 'connected'", timeout=15_000)
    await page.fill("#text", PARAGRAPH)
    await page.click("#speak")

    await page.wait_for_function(f"window.scaispeakDemo.rms() > {SOUND_FLOOR}", timeout=15_000)
    assert await _loudest(page, 0.5) > 5 * SOUND_FLOOR  # speech, not a click
    stats = await page.evaluate("window.scaispeakDemo.stats()")
    assert stats["bytesReceived"] > 5000  # Opus at ~0.5 s of speech
    assert stats["totalAudioEnergy"] > 1e-3

    await page.click("#bargein")
    await page.wait_for_function(
        "window.scaispeakDemo.events.some((e) => e.type === 'cancelled')", timeout=5_000
    )
    # What was in flight plays out within the playout lead and the jitter buffer.
    await page.wait_for_function(f"window.scaispeakDemo.rms() < {SILENCE}", timeout=2_000)
    assert await _loudest(page, 0.8) < SILENCE
    events = await page.evaluate("window.scaispeakDemo.events")
    spoken = [e for e in events if e["type"] == "segment"]
    cancelled = next(e for e in events if e["type"] == "cancelled")
    assert cancelled["characters"] < sum(len(s["text"]) for s in spoken)
