"""Peak memory of speaking one unbroken token (a key): whole vs in bounded pieces.

    .venv/bin/python bench/long_tokens.py [--chars 400] [--piece 300]

A key, a hash or a long URL is one segment however long it is, and normalising its
digits and symbols makes it longer still. Rendered by one engine call, its memory grows
with its audio: a 2,000-character key took a server past 20 GB. The pipeline renders
normalised text in pieces of at most ``SCAISPEAK_ENGINES__MAX_ENGINE_CHARS``
(split_for_engine). Each way runs in a fresh process (Piper, CPU) so its peak RSS is its
own; prints both peaks, their ratio, and the audio each made. Keep ``--chars`` modest:
the whole rendering is the one that does not scale.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import resource
import subprocess
import sys
import time

VOICE = "en_US-joe-medium"


def run_one(chars: int, piece: int, whole: bool) -> dict[str, float]:
    from scaispeak.settings import Settings
    from scaispeak.speak.engines.registry import build_engines
    from scaispeak.speak.synthesis.text import normalize_text, split_for_engine

    engine = build_engines(Settings(engines={"enabled": ["piper"]})).get("piper")
    engine.synthesize("Warm up.", VOICE)
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    key = base64.b64encode(random.Random(1).randbytes(chars * 3 // 4)).decode()[:chars]
    spoken = normalize_text(f"The key is {key}.")
    pieces = [spoken] if whole else split_for_engine(spoken, piece)
    started = time.perf_counter()
    audio_s = sum(len(engine.synthesize(p, VOICE)) / engine.sample_rate for p in pieces)
    return {
        "pieces": len(pieces),
        "normalised_chars": len(spoken),
        "audio_s": round(audio_s, 1),
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "after_warm_up_mb": round(baseline_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=400)
    parser.add_argument("--piece", type=int, default=300)
    parser.add_argument("--child", choices=["whole", "pieces"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.chars, args.piece, args.child == "whole")))
        return
    results = {}
    for way in ("whole", "pieces"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--chars",
                str(args.chars),
                "--piece",
                str(args.piece),
                "--child",
                way,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results[way] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{way:6}: {results[way]}")
    ratio = results["whole"]["peak_rss_mb"] / results["pieces"]["peak_rss_mb"]
    print(f"peak RSS whole / pieces: {ratio:.2f}x for a {args.chars}-character key")


if __name__ == "__main__":
    main()
