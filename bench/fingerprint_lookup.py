"""Provenance lookup: the time to match one query fingerprint against stored clips.

    .venv/bin/python bench/fingerprint_lookup.py [--records 50] [--seconds 120]

Clips are Piper's joe reading four sentences, joined at random into ``--seconds``-long
clips (repeated sentences share many exact fingerprint words: the costly case for the
pairing step). ``/detect`` compares a query against up to ``LOOKUP_MAX_RECORDS`` (2000)
stored clips, so the projected lookup is the time per pair x 2000.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from scaispeak.speak.engines.piper import PiperEngine
from scaispeak.speak.provenance import fingerprint as fp

TEXTS = (
    "The quick brown fox jumps over the lazy dog, then runs into the forest.",
    "Please remember to bring an umbrella tomorrow; the forecast says rain all day.",
    "Numbers like three hundred and forty two are spoken in full, as are dates.",
    "A long time ago, in a small village by the sea, there lived an old fisherman.",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    engine = PiperEngine(intra_op_threads=2)
    sentences = [engine.synthesize(t, "en_US-joe-medium") for t in TEXTS]
    rng = np.random.default_rng(0)

    def clip() -> fp.Words:
        picks = rng.integers(len(sentences), size=int(args.seconds))
        pcm = np.concatenate([sentences[i] for i in picks])
        return fp.fingerprint(pcm[: int(args.seconds * engine.sample_rate)], engine.sample_rate)

    stored = [clip() for _ in range(args.records)]
    query = clip()
    times = []
    for words in stored:
        started = time.perf_counter()
        fp.match(query, words)
        times.append(time.perf_counter() - started)
    per_pair = statistics.median(times)
    print(f"{args.records} stored clips of {args.seconds:g} s")
    print(f"match per pair: median {per_pair * 1e3:.2f} ms, max {max(times) * 1e3:.2f} ms")
    print(f"projected lookup over 2000 records: {per_pair * 2000:.1f} s")


if __name__ == "__main__":
    main()
