"""Added latency of the relay path: relay TTFA - direct TTFA, in one run, on loopback.

    .venv/bin/python bench/relay.py [--requests 30]

Starts two real `scaispeak serve` processes: an upstream, and a front instance whose
`relay` backend points at the upstream's OpenAI-compatible /v1/audio/speech. For the
same sentence it alternates (a) POST upstream /v1/audio/speech (pcm) directly and
(b) POST front /v1/modules/scaispeak/speak with backend=relay (pcm), timing each to
its first response byte. Prints the medians, p90 and the median added latency.
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
SENTENCE = "The relay should add almost nothing to the time before audio starts."


def time_to_first_byte(client: httpx.Client, url: str, body: dict[str, object]) -> float:
    started = time.perf_counter()
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        elapsed = None
        for _ in response.iter_raw():
            if elapsed is None:
                elapsed = time.perf_counter() - started
    assert elapsed is not None, "empty response"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    up_port, front_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as up_dir, tempfile.TemporaryDirectory() as front_dir:
        upstream, up_key = serve(Path(up_dir), up_port, PIPER_ONLY)
        front, front_key = serve(
            Path(front_dir),
            front_port,
            {
                "SCAISPEAK_BACKENDS__RELAY__BASE_URL": f"http://127.0.0.1:{up_port}/v1",
                "SCAISPEAK_BACKENDS__RELAY__API_KEY": up_key,
                **PIPER_ONLY,
            },
        )
        try:
            direct_url = f"http://127.0.0.1:{up_port}/v1/audio/speech"
            relay_url = f"http://127.0.0.1:{front_port}/v1/modules/scaispeak/speak"
            direct_body = {
                "model": "tts-1",
                "input": SENTENCE,
                "voice": "voc_piper_en-us-joe-medium",
                "response_format": "pcm",
            }
            relay_body = {
                "text": SENTENCE,
                "voice_id": "voc_piper_en-us-joe-medium",
                "format": "pcm",
                "sample_rate": 24000,
                "backend": "relay",
            }
            with (
                httpx.Client(headers={"Authorization": f"Bearer {up_key}"}, timeout=60) as up,
                httpx.Client(headers={"Authorization": f"Bearer {front_key}"}, timeout=60) as fr,
            ):
                for _ in range(3):  # warm both paths
                    time_to_first_byte(up, direct_url, direct_body)
                    time_to_first_byte(fr, relay_url, relay_body)
                direct, relay = [], []
                for _ in range(args.requests):
                    direct.append(time_to_first_byte(up, direct_url, direct_body))
                    relay.append(time_to_first_byte(fr, relay_url, relay_body))
            report(direct, relay)
        finally:
            for process in (front, upstream):
                process.terminate()
                process.wait(timeout=30)


def report(direct: list[float], relay: list[float]) -> None:
    def p90(values: list[float]) -> float:
        return sorted(values)[int(0.9 * (len(values) - 1))]

    added = [r - d for r, d in zip(relay, direct, strict=True)]
    print(f"{len(direct)} request pairs, sentence of {len(SENTENCE)} characters, piper")
    for name, values in (("direct", direct), ("relay ", relay)):
        median_ms, p90_ms = statistics.median(values) * 1000, p90(values) * 1000
        print(f"{name} TTFA  median {median_ms:7.1f} ms   p90 {p90_ms:7.1f} ms")
    print(f"added        median {statistics.median(added) * 1000:7.1f} ms   (goal <= 10 ms)")


if __name__ == "__main__":
    main()
