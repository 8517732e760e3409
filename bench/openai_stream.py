"""Time to first audio byte of /v1/audio/speech, streamed, against the whole-clip answer.

    .venv/bin/python bench/openai_stream.py [--chars 250 1000 4000] [--rounds 3]

Starts a real `scaispeak serve` (Piper only) and, for texts of each length, alternates
(a) POST /v1/audio/speech (mp3), which sends speech of several segments as it is made
(synthesis/streamed.py), and (b) POST /v1/modules/scaispeak/speak (mp3, inline), which
answers the whole clip at once: what /v1/audio/speech did before. Each is timed to its
first and last response byte. Prints the medians and the ratio of the whole clip's
first byte to the stream's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from harness import free_port, serve

PIPER_ONLY = {"SCAISPEAK_ENGINES__ENABLED": '["piper"]'}
SENTENCES = (
    "The lighthouse keeper climbed the stairs at dusk and lit the great lamp.",
    "Far out at sea, the fishing boats turned for home before the storm.",
    "Gulls circled above the harbour while the nets were hauled ashore.",
)


def text_of(chars: int) -> str:
    words: list[str] = []
    while sum(len(s) + 1 for s in words) < chars:
        words.append(SENTENCES[len(words) % len(SENTENCES)])
    return " ".join(words)[:chars].rsplit(" ", 1)[0] + "."


def timed(client: httpx.Client, url: str, body: dict[str, object]) -> tuple[float, float]:
    """Seconds to the first and to the last response byte."""
    started = time.perf_counter()
    first = None
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for _ in response.iter_raw():
            if first is None:
                first = time.perf_counter() - started
    assert first is not None, "empty response"
    return first, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chars", type=int, nargs="+", default=[250, 1000, 4000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server, key = serve(Path(tmp), port, PIPER_ONLY)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        try:
            with httpx.Client(headers=headers, timeout=900) as client:
                timed(client, f"{base}/v1/audio/speech", request("Warm up.", stream=True))
                for chars in args.chars:
                    report(client, base, chars, args.rounds)
        finally:
            server.terminate()
            server.wait(timeout=30)


def request(text: str, *, stream: bool) -> dict[str, object]:
    if stream:
        return {"model": "tts-1", "voice": "onyx", "input": text, "response_format": "mp3"}
    return {"text": text, "voice_id": "voc_piper_en-us-joe-medium", "format": "mp3"}


def report(client: httpx.Client, base: str, chars: int, rounds: int) -> None:
    text = text_of(chars)
    streamed, whole = [], []
    for _ in range(rounds):
        streamed.append(timed(client, f"{base}/v1/audio/speech", request(text, stream=True)))
        whole.append(
            timed(client, f"{base}/v1/modules/scaispeak/speak", request(text, stream=False))
        )
    s_first = statistics.median(t[0] for t in streamed)
    s_last = statistics.median(t[1] for t in streamed)
    w_first = statistics.median(t[0] for t in whole)
    print(
        f"{len(text):5d} chars: streamed first byte {s_first * 1000:7.0f} ms, "
        f"last {s_last:6.2f} s | whole clip first byte {w_first:6.2f} s | "
        f"first byte {w_first / s_first:5.1f}x sooner"
    )


if __name__ == "__main__":
    main()
