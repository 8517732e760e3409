"""Memory and time of Piper's decoder: one run per piece vs bounded windows.

    .venv/bin/python bench/piper_decode_window.py [--rounds 3]

onnxruntime's CPU arena keeps what its largest run needed for the life of the process,
so one decoder run over a long piece (300 normalised characters, up to about 30 s of
audio) left a server near a gigabyte. ``vits_split.MAX_DECODE_FRAMES`` decodes long
latents window by window. Each way runs in a fresh process (one inference thread):
long pieces (fractions and numbers read out, and prose), then 20 short sentences.
Prints the resident memory after each way, the peak, the times, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

LONG = ("½ " * 60, "12345 " * 30, "The quick brown fox jumps over the lazy dog. " * 6)
SHORT = "Hello there, how are you today?"


def run_one(windowed: bool, rounds: int) -> dict[str, float]:
    from scaispeak.speak.engines import vits_split
    from scaispeak.speak.engines.piper import VOICE_KEY, PiperEngine
    from scaispeak.speak.synthesis.text import normalize_text

    if not windowed:
        vits_split.MAX_DECODE_FRAMES = 10**9  # one decoder run per piece, as before
    engine = PiperEngine(intra_op_threads=1)
    engine.synthesize("Warm up.", VOICE_KEY)
    pieces = [normalize_text(text)[:300] for text in LONG]
    started = time.perf_counter()
    audio_s = 0.0
    for _ in range(rounds):
        for piece in pieces:
            audio_s += len(engine.synthesize(piece, VOICE_KEY)) / engine.sample_rate
    long_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(20):
        engine.synthesize(SHORT, VOICE_KEY)
    with open("/proc/self/statm") as statm:
        resident_mb = int(statm.read().split()[1]) * 4096 / 1e6
    return {
        "resident_mb": round(resident_mb),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "long_s": round(long_s, 2),
        "audio_s": round(audio_s, 1),
        "short_x20_s": round(time.perf_counter() - started, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["whole", "windowed"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child == "windowed", args.rounds)))
        return
    results = {}
    for way in ("whole", "windowed"):
        command = [sys.executable, __file__, "--rounds", str(args.rounds), "--child", way]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        results[way] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{way:8}: {results[way]}")
    whole, windowed = results["whole"], results["windowed"]
    print(
        f"resident whole / windowed: {whole['resident_mb'] / windowed['resident_mb']:.2f}x; "
        f"long time windowed / whole: {windowed['long_s'] / whole['long_s']:.2f}x; "
        f"short: {windowed['short_x20_s'] / whole['short_x20_s']:.2f}x"
    )


if __name__ == "__main__":
    main()
