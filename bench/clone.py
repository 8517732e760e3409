"""Cloning quality and speed: speaker similarity, WER, DNSMOS and fit time per speaker.

    .venv/bin/python bench/clone.py [--speakers joe,kumo] [--budget 45]

Reference speakers are made from the stock voices (tests/support/speakers.py): some lie
inside the style search's space (a stock table, a mix of two), others outside it
(Piper's joe; Kokoro voices moved by a WORLD pitch shift and formant warp), so the mean
is not flattered by speakers the search can hit exactly. For each speaker the fitter
sees one reference clip (REFERENCE); similarity is then measured between the clone
reading OUTPUT and the speaker reading HELD_OUT, audio and words the fit never saw.
Both the fit and the score use Resemblyzer, which flatters the figure however the
audio is held out: read the "genuine" column (the real speaker, same protocol) as the
ceiling and the "base" column (the nearest Kokoro table, uncloned) as the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr
from speechmos import dnsmos

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support

from scaispeak.settings import CloningSettings, Settings
from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.engines.cloning import (
    FitReport,
    SpeakerEncoder,
    StockVoices,
    StyleSearchFitter,
    cosine,
)
from scaispeak.speak.engines.cloning.engine import CloneEngine
from scaispeak.speak.engines.kokoro import KokoroEngine
from scaispeak.speak.engines.piper import PiperEngine
from tests.support.asr import transcribe, word_error_rate
from tests.support.speakers import Speaker

REFERENCE = (
    "When the morning train pulled into the station, the platform was already crowded "
    "with travellers. A porter wheeled a cart of suitcases past the ticket office, while a "
    "small dog barked at the pigeons. Somewhere a radio was playing an old song about the "
    "sea, and a woman in a green coat hummed along."
)
HELD_OUT = (
    "The library closes at nine on weekdays and at five on Saturdays. Please return "
    "borrowed books to the desk by the main entrance, and ask a librarian if you need help."
)
OUTPUT = (
    "Yesterday we planted tomatoes, beans and a row of sunflowers along the garden fence. "
    "If the weather stays warm, the first vegetables should be ready in about two months."
)
SPEAKERS = (
    Speaker("kumo", {"jm_kumo": 1.0}),
    Speaker("alpha+kumo", {"jf_alpha": 0.5, "jm_kumo": 0.5}),
    Speaker("joe (piper)"),
    Speaker("gongitsune -4st w0.88", {"jf_gongitsune": 1.0}, semitones=-4, warp=0.88),
    Speaker("kumo +3st w1.08", {"jm_kumo": 1.0}, semitones=3, warp=1.08),
)
DNSMOS_RATE = 16_000


def dnsmos_overall(pcm: Pcm, rate: int) -> float:
    audio = soxr.resample(np.asarray(pcm, np.float32), rate, DNSMOS_RATE).astype(np.float32)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 1.0:  # resampling overshoots; speechmos rejects samples outside [-1, 1]
        audio = audio / np.float32(peak)
    return float(dnsmos.run(audio, DNSMOS_RATE)["ovrl_mos"])


@dataclass(frozen=True)
class Rig:
    """Everything a measurement needs, built once."""

    kokoro: KokoroEngine
    piper: PiperEngine
    encoder: SpeakerEncoder
    fitter: StyleSearchFitter


@dataclass(frozen=True)
class Row:
    speaker: Speaker
    nearest: str
    base: float
    clone: float
    genuine: float
    wer: float
    dnsmos: float
    dnsmos_base: float
    ready: float
    cpu: float
    report: FitReport


def build_rig(budget: float | None, evaluations: int | None, cpu_clock: bool) -> Rig:
    kokoro = KokoroEngine(Settings().cache_dir / "kokoro", intra_op_threads=2)
    piper = PiperEngine(intra_op_threads=2)
    encoder = SpeakerEncoder()
    settings = CloningSettings()
    if budget is not None:
        settings = settings.model_copy(update={"time_budget_s": budget})
    if evaluations is not None:
        settings = settings.model_copy(update={"max_evaluations": evaluations})
    stock = StockVoices(kokoro, encoder, (piper,))
    # On a machine others are loading, wall time says more about them than about us; the
    # process's CPU time is an upper bound on the wall time an idle 2-core machine takes.
    clock = time.process_time if cpu_clock else time.monotonic
    fitter = StyleSearchFitter(kokoro, encoder, settings, stock=stock, clock=clock)
    return Rig(kokoro, piper, encoder, fitter)


def measure(speaker: Speaker, rig: Rig) -> Row:
    kokoro, piper, encoder = rig.kokoro, rig.piper, rig.encoder
    reference, rate = speaker.say(REFERENCE, kokoro, piper)
    held_out = encoder.embed(*speaker.say(HELD_OUT, kokoro, piper))
    began, cpu_began = time.monotonic(), time.process_time()
    report = rig.fitter.fit_report(reference, rate)  # upload to ready: the fit is the work
    ready, cpu = time.monotonic() - began, time.process_time() - cpu_began
    engine = CloneEngine(kokoro, {"voice": report.blob.to_bytes()}.get)
    clone = engine.synthesize(OUTPUT, "voice")
    # The uncloned base is the nearest Kokoro table, where the clone starts: the nearest
    # stock voice overall would be the speaker itself for joe, a ceiling, not a base.
    kokoro_stock = {k: v for k, v in report.stock_similarity.items() if k.startswith("kokoro:")}
    base_key = max(kokoro_stock, key=kokoro_stock.__getitem__)
    base = kokoro.synthesize(OUTPUT, base_key.partition(":")[2])
    return Row(
        speaker=speaker,
        nearest=base_key,
        base=cosine(encoder.embed(base, kokoro.sample_rate), held_out),
        clone=cosine(encoder.embed(clone, engine.sample_rate), held_out),
        genuine=cosine(encoder.embed(*speaker.say(OUTPUT, kokoro, piper)), held_out),
        wer=word_error_rate(OUTPUT, transcribe(clone, engine.sample_rate)),
        dnsmos=dnsmos_overall(clone, engine.sample_rate),
        dnsmos_base=dnsmos_overall(base, kokoro.sample_rate),
        ready=ready,
        cpu=cpu,
        report=report,
    )


def print_row(row: Row) -> None:
    report, conversion = row.report, row.report.conversion
    world = "kept" if conversion and conversion.kept else ("no" if conversion else "-")
    space = "in" if row.speaker.in_search_space else "out"
    print(
        f"| {row.speaker.name} | {space} | {row.nearest} | {row.base:.3f} | **{row.clone:.3f}** "
        f"| {row.genuine:.3f} | {row.wer:.1%} | {row.dnsmos:.2f} | {row.dnsmos_base:.2f} "
        f"| {row.ready:.1f} | {row.cpu:.1f} | {report.evaluations} | {world} |",
        flush=True,
    )
    stages = " ".join(f"{name} {score:.3f}" for name, score in report.validation.items())
    extra = (
        f"; WORLD held-out {conversion.held_out_without:.3f} -> {conversion.held_out:.3f}"
        if conversion
        else ""
    )
    print(f"|   | validation: {stages}{extra} |", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", help="comma-separated names (default: all)")
    parser.add_argument("--budget", type=float, help="fit time budget, s (default: settings)")
    parser.add_argument(
        "--evaluations", type=int, help="search evaluations at most (default: settings)"
    )
    parser.add_argument(
        "--cpu-clock",
        action="store_true",
        help="count the fit budget in CPU seconds (for a shared, loaded machine)",
    )
    args = parser.parse_args()
    chosen = [s for s in SPEAKERS if not args.speakers or s.name in args.speakers.split(",")]
    rig = build_rig(args.budget, args.evaluations, args.cpu_clock)
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    began = time.monotonic()
    rig.kokoro.warm()
    rig.encoder.warm()
    # The first fit of a process also embeds the stock voices: timed apart, once.
    print("model load + stock probe embeddings (once per process): ", end="", flush=True)
    stock_began = time.monotonic()
    rig.fitter.stock.embeddings()
    print(f"{time.monotonic() - stock_began:.1f} s (load {stock_began - began:.1f} s)")
    print(
        "| speaker | space | base (nearest Kokoro) | base sim | clone sim | genuine | WER | DNSMOS "
        "| DNSMOS base | ready s | CPU s | evals | WORLD |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for speaker in chosen:
        rows.append(measure(speaker, rig))
        print_row(rows[-1])
    summarise(rows)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def summarise(rows: list[Row]) -> None:
    for label, subset in (
        ("all", rows),
        ("outside the search space", [r for r in rows if not r.speaker.in_search_space]),
    ):
        if not subset:
            continue
        print(
            f"mean ({label}, {len(subset)}): base {statistics.mean(r.base for r in subset):.3f}, "
            f"clone {statistics.mean(r.clone for r in subset):.3f}, "
            f"genuine {statistics.mean(r.genuine for r in subset):.3f}, "
            f"WER {statistics.mean(r.wer for r in subset):.1%}, "
            f"DNSMOS {statistics.mean(r.dnsmos for r in subset):.2f}, "
            f"ready max {max(r.ready for r in subset):.1f} s "
            f"(CPU {max(r.cpu for r in subset):.1f} s)"
        )


if __name__ == "__main__":
    main()
