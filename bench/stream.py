"""Time to first audio over the streaming WebSocket, at 1, 4, 8 and 16 concurrent streams.

    .venv/bin/python bench/stream.py [--voice piper|kokoro] [--rounds 6] [--streams 1 4 8 16]

Starts a real `scaispeak serve` (SQLite in a temp dir). Each of N concurrent clients
repeats: connect, `start` (pcm), then send the first clause "Good morning to you, "
in one message and time until the first binary audio frame arrives (the time to first
audio, TTFA), then send the rest of the utterance and `end`, and wait for `done`.
Clients start together, so the first round is the worst case (N first clauses at
once); later rounds drift apart and first clauses compete with other streams' later
segments. The first round of each level is a warm-up and not counted. Beside it, the
raw engine's time for the same clause, in this process, before the server is loaded.

Stalls: the first clause may arrive in pieces (an opening, then the rest:
docs/streaming.md), so each turn also records how long a listener who starts playing at
the first frame would wait for any later frame of that clause; "stalled" is the share
of turns where one came late, "stall p95" the 95th percentile of the longest wait.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import websockets

# The sibling script (bench/ is on sys.path when this file is run as a script).
from harness import free_port, serve

from scaispeak.settings import Settings
from scaispeak.speak.engines.registry import build_engines
from scaispeak.speak.synthesis.text import normalize_text
from speak import VOICES

CLAUSE = "Good morning to you, "
REST = "this is one turn of the streaming benchmark, and it carries on for a little while."


@dataclass(frozen=True)
class Turn:
    ttfa: float
    """Seconds from sending the clause to its first audio frame."""
    stall: float
    """Longest wait for the first clause's audio once it started playing in real time
    (0 when every frame came before the listener needed it)."""


async def one_turn(url: str, key: str, voice_id: str) -> Turn:
    headers = {"Authorization": f"Bearer {key}"}
    async with websockets.connect(url, additional_headers=headers, compression=None) as ws:
        await ws.send(json.dumps({"type": "start", "voice_id": voice_id, "format": "pcm"}))
        rate = json.loads(await ws.recv())["sample_rate"]  # started
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "text", "text": CLAUSE}))
        spoken = json.loads(await ws.recv())  # the segment event comes just before its audio
        while not isinstance(first := await ws.recv(), bytes):
            pass
        heard = time.perf_counter()
        assert spoken["text"] == CLAUSE.strip(), f"timed a different clause: {spoken}"
        await ws.send(json.dumps({"type": "text", "text": REST}))
        await ws.send(json.dumps({"type": "end"}))
        clause_bytes = 2 * round(spoken["audio_seconds"] * rate)
        received, stall = len(first), 0.0
        async for message in ws:  # until done and the server's close
            if isinstance(message, bytes) and received < clause_bytes:
                due = heard + received / 2 / rate  # when playback reaches this frame
                stall = max(stall, time.perf_counter() - due)
                received += len(message)
        return Turn(heard - started, stall)


async def level(url: str, key: str, voice_id: str, streams: int, rounds: int) -> list[Turn]:
    async def client() -> list[Turn]:
        return [await one_turn(url, key, voice_id) for _ in range(rounds)]

    per_client = await asyncio.gather(*(client() for _ in range(streams)))
    return [t for turns in per_client for t in turns[1:]]  # round one warms up


def raw_engine(engine_name: str, voice: str, repeats: int) -> list[float]:
    engine = build_engines(Settings(data_dir=Path(tempfile.mkdtemp()))).get(engine_name)
    engine.warm()
    text = normalize_text(CLAUSE.strip())
    engine.synthesize(text, voice)  # type: ignore[union-attr]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        engine.synthesize(text, voice)  # type: ignore[union-attr]
        times.append(time.perf_counter() - started)
    return times


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voice", choices=sorted(VOICES), default="piper")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8, 16])
    args = parser.parse_args()
    voice, voice_id = VOICES[args.voice]
    raw = raw_engine(args.voice, voice, repeats=20)
    os.environ["SCAISPEAK_STREAMING__MAX_STREAMS_PER_TENANT"] = str(max(args.streams))
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        server, key = serve(Path(data), port)
        try:
            url = f"ws://127.0.0.1:{port}/v1/modules/scaispeak/stream/speak"
            print(f"{args.voice}: first clause {CLAUSE.strip()!r}, pcm, {os.cpu_count()} CPUs")
            print(f"raw engine, same clause: p50 {percentiles(raw)[0]:.0f} ms")
            print(
                f"{'streams':>7} {'samples':>7} {'TTFA p50 ms':>11} {'TTFA p95 ms':>11}"
                f" {'stalled':>7} {'stall p95 ms':>12}"
            )
            for streams in args.streams:
                turns = asyncio.run(level(url, key, voice_id, streams, args.rounds))
                p50, p95 = percentiles([t.ttfa for t in turns])
                stalls = [t.stall for t in turns]
                stalled = sum(s > 0.001 for s in stalls) / len(stalls)
                print(
                    f"{streams:>7} {len(turns):>7} {p50:>11.0f} {p95:>11.0f}"
                    f" {stalled:>7.0%} {percentiles(stalls)[1]:>12.0f}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
