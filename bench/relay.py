"""Added latency of the relay path: relay TTFA - direct TTFA, in one run, on loopback.

    .venv/bin/python bench/relay.py [--requests 30] [--upstream-watermarks [--upstream-levels]]

Starts two real `scaispeak serve` processes: an upstream, and a front instance whose
`relay` backend points at the upstream's OpenAI-compatible /v1/audio/speech. For the
same sentence it alternates (a) POST upstream /v1/audio/speech (pcm) directly and
(b) POST front /v1/modules/scaispeak/speak with backend=relay (pcm), timing each to
its first response byte. Prints the medians, p90 and the median added latency, and
how much of it comes after the direct response's last byte (the front needs the
upstream's whole clip to level it).

The two requests of a pair are two different syntheses: Piper's durations are
sampled, and the 2-core machine's scheduling varies, so the upstream's own time
differs by tens of milliseconds between them, and the raw median of 60 differences
moved by +-6 ms between runs of the same code. The upstream's access log gives its
own time to first byte for every request it served (the relayed ones included), so
the run also prints the added latency with that difference taken out:
(relay TTFA - the upstream's time for the relayed request) - (direct TTFA - the
upstream's time for the direct request). That is the front's own work plus the
extra HTTP round trip, which is what the relay adds.

With --upstream-watermarks the front trusts the upstream's watermark
(SCAISPEAK_BACKENDS__RELAY__UPSTREAM_WATERMARKS) and does not mark again; either way
every relayed clip is checked for the mark afterwards, and the run fails if a clip
that should carry it does not (e.g. the upstream was started with marking off).
With --upstream-levels as well it trusts the upstream's levelling too
(SCAISPEAK_BACKENDS__RELAY__UPSTREAM_LEVELS): the relayed pcm is then passed on as it
arrives (synthesis/passthrough.py) instead of being buffered and levelled here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from harness import free_port, serve

from scaispeak.settings import Settings
from scaispeak.speak.provenance.watermark import shared_watermarker

PIPER_ONLY = {"SCAISPEAK_ENGINES__ENABLED": '["piper"]'}
SENTENCE = "The relay should add almost nothing to the time before audio starts."


@dataclass(frozen=True)
class Timed:
    first_byte_s: float
    last_byte_s: float
    body: bytes


def timed_post(client: httpx.Client, url: str, body: dict[str, object]) -> Timed:
    """Seconds to the first and to the last response byte, and the whole body."""
    started = time.perf_counter()
    chunks = []
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        first = None
        for chunk in response.iter_raw():
            if first is None:
                first = time.perf_counter() - started
            chunks.append(chunk)
    assert first is not None, "empty response"
    return Timed(first, time.perf_counter() - started, b"".join(chunks))


def count_marked(clips: list[bytes], rate: int) -> int:
    """How many of the s16le ``clips`` carry the provenance watermark."""
    marker = shared_watermarker()
    pcm = [np.frombuffer(c, "<i2").astype(np.float32) / 32768 for c in clips]
    return sum(marker.is_marked(p, rate) for p in pcm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--upstream-watermarks",
        action="store_true",
        help="the front trusts the upstream's watermark instead of marking again",
    )
    parser.add_argument(
        "--upstream-levels",
        action="store_true",
        help="the front trusts the upstream's levelling too: pcm passes through as it arrives",
    )
    args = parser.parse_args()
    trust = {
        "SCAISPEAK_BACKENDS__RELAY__UPSTREAM_WATERMARKS": str(args.upstream_watermarks),
        "SCAISPEAK_BACKENDS__RELAY__UPSTREAM_LEVELS": str(args.upstream_levels),
    }
    up_port, front_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as up_dir, tempfile.TemporaryDirectory() as front_dir:
        up_log = Path(up_dir) / "access.log"
        upstream, up_key = serve(Path(up_dir), up_port, PIPER_ONLY, log_file=up_log)
        front_log = Path(front_dir) / "access.log"
        front, front_key = serve(
            Path(front_dir),
            front_port,
            {
                "SCAISPEAK_BACKENDS__RELAY__BASE_URL": f"http://127.0.0.1:{up_port}/v1",
                "SCAISPEAK_BACKENDS__RELAY__API_KEY": up_key,
                **trust,
                **PIPER_ONLY,
            },
            log_file=front_log,
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
                for _ in range(WARM_PAIRS):
                    timed_post(up, direct_url, direct_body)
                    timed_post(fr, relay_url, relay_body)
                direct, relay = [], []
                for _ in range(args.requests):
                    direct.append(timed_post(up, direct_url, direct_body))
                    relay.append(timed_post(fr, relay_url, relay_body))
        finally:
            for process in (front, upstream):
                process.terminate()
                process.wait(timeout=30)
        report(direct, relay)
        upstream_seen = served_times(up_log, "/v1/audio/speech", 2 * args.requests)
        front_seen = served_times(front_log, "/v1/modules/scaispeak/speak", args.requests)
        report_corrected(direct, relay, upstream_seen[0::2], upstream_seen[1::2], front_seen)
        check_marks([r.body for r in relay], args.upstream_watermarks)


WARM_PAIRS = 3


def served_times(log: Path, route: str, measured: int) -> list[float]:
    """A server's own seconds to first byte (its access log) for the last ``measured``
    requests to ``route``, in the order served. The bench sends one request at a time,
    alternating direct and relayed, so the upstream's log alternates the same way."""
    times = [
        entry["duration_ms"] / 1000
        for entry in map(json.loads, log.read_text().splitlines())
        if entry.get("msg") == "request" and entry.get("route") == route
    ]
    if len(times) < measured:
        raise SystemExit(f"{log} has {len(times)} requests to {route}, fewer than {measured}")
    return times[-measured:]


def check_marks(clips: list[bytes], trusted: bool) -> None:
    marked = count_marked(clips, 24000)
    provenance = Settings().provenance  # this environment's, as both servers see it
    marking = provenance.watermark and provenance.watermark_stock_voices
    who = "the upstream only" if trusted else "the front and the upstream"
    print(
        f"relayed clips carrying the watermark: {marked}/{len(clips)} "
        + (f"(marked by {who})" if marking else "(marking is off)")
    )
    if marking and marked != len(clips):
        raise SystemExit("relayed audio that should be marked is not")


def report(direct: list[Timed], relay: list[Timed]) -> None:
    def p90(values: list[float]) -> float:
        return sorted(values)[int(0.9 * (len(values) - 1))]

    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1000

    direct_first = [d.first_byte_s for d in direct]
    relay_first = [r.first_byte_s for r in relay]
    added = [r - d for r, d in zip(relay_first, direct_first, strict=True)]
    # The front needs the upstream's whole clip (it levels it), so the upstream's body
    # transfer is part of the relay's path; this separates the front's own work from it.
    past_body = [r.first_byte_s - d.last_byte_s for r, d in zip(relay, direct, strict=True)]
    print(f"{len(direct)} request pairs, sentence of {len(SENTENCE)} characters, piper")
    for name, values in (("direct", direct_first), ("relay ", relay_first)):
        print(f"{name} TTFA  median {ms(values):7.1f} ms   p90 {p90(values) * 1000:7.1f} ms")
    print(f"direct last byte median {ms([d.last_byte_s for d in direct]):7.1f} ms")
    print(f"added        median {ms(added):7.1f} ms   (goal <= 10 ms)")
    print(f"added after the direct body's last byte: median {ms(past_body):7.1f} ms")


def report_corrected(
    direct: list[Timed],
    relay: list[Timed],
    up_direct: list[float],
    up_relayed: list[float],
    front: list[float],
) -> None:
    """The added latency without the difference between the two requests' syntheses,
    and where it goes."""
    direct_outside = [d.first_byte_s - u for d, u in zip(direct, up_direct, strict=True)]
    relay_outside = [r.first_byte_s - u for r, u in zip(relay, up_relayed, strict=True)]
    added = [r - d for r, d in zip(relay_outside, direct_outside, strict=True)]
    front_own = [f - u for f, u in zip(front, up_relayed, strict=True)]
    to_front = [r.first_byte_s - f for r, f in zip(relay, front, strict=True)]
    spread = [u - d for u, d in zip(up_relayed, up_direct, strict=True)]

    def summary(values: list[float]) -> str:
        low, mid, high = (q * 1000 for q in statistics.quantiles(values, n=4))
        return f"median {mid:+6.1f} ms   interquartile {low:+.1f} .. {high:+.1f} ms"

    print(f"upstream's own time, relayed minus direct request: {summary(spread)}")
    print(f"added, the upstream's own time taken out: {summary(added)}   (goal <= 10 ms)")
    print("  where it goes (each a median of its own):")
    print(f"  direct: client <-> upstream outside its handler  {summary(direct_outside)}")
    print(f"  relay:  client <-> front outside its handler     {summary(to_front)}")
    print(f"  relay:  the front's handler minus the upstream's {summary(front_own)}")


if __name__ == "__main__":
    main()
