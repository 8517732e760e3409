"""The relay's HTTP client: one upstream round trip with aiohttp (used) vs httpx (before).

    .venv/bin/python bench/relay_client.py [--requests 200]

A bare ASGI app under uvicorn (a subprocess, loopback) answers every POST with a
177 KB body (3.7 s of 24 kHz s16le, what the relay receives for the bench sentence).
Each client posts the relay's JSON payload with a persistent connection, after 50 ms
idle (as between requests), alternating; prints both medians and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from harness import free_port

SERVER = """
import sys, uvicorn
BODY = b"\\x01\\x02" * 88_500
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"audio/pcm"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})
uvicorn.run(app, port=int(sys.argv[1]), log_level="error")
"""
PAYLOAD = {
    "model": "tts-1",
    "input": "The relay should add almost nothing to the time before audio starts.",
    "voice": "voc_piper_en-us-joe-medium",
    "response_format": "pcm",
    "speed": 1.0,
}


async def compare(url: str, requests: int) -> None:
    async with httpx.AsyncClient() as hx, aiohttp.ClientSession() as ah:

        async def with_httpx() -> bytes:
            return (await hx.post(url, json=PAYLOAD)).content

        async def with_aiohttp() -> bytes:
            async with ah.post(url, json=PAYLOAD) as response:
                return await response.read()

        clients: dict[str, Callable[[], Awaitable[bytes]]] = {
            "httpx": with_httpx,
            "aiohttp": with_aiohttp,
        }
        times: dict[str, list[float]] = {name: [] for name in clients}
        for round_ in range(requests + 20):
            for name, post in clients.items():
                await asyncio.sleep(0.05)
                started = time.perf_counter()
                assert len(await post()) == 177_000
                if round_ >= 20:  # the first ones warm both up
                    times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"{requests} POSTs each, 177 KB answers, 50 ms idle before each")
    for name, ms in medians.items():
        print(f"{name:8s} median {ms:6.2f} ms")
    print(f"aiohttp / httpx: {medians['aiohttp'] / medians['httpx']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        url = f"http://127.0.0.1:{port}/v1/audio/speech"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(url, json=PAYLOAD, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        asyncio.run(compare(url, args.requests))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
