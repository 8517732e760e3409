"""Provenance watermark: cost, robustness, false alarms, quality.

    .venv/bin/python bench/watermark.py [--texts 3]

Clips are the stock voices (Piper's joe, three Kokoro tables) reading TEXTS through the
real pipeline with the watermark off ("clean") and on ("marked"). Reported:

- added latency: seconds of marking per second of audio (whole clips), and the first
  clause of a stream (what time to first audio pays), with and without the mark;
- detection: Perth's score for every clip x transform (mp3 64 kbps, Opus, 16 kHz,
  +/-6 dB, a simulated room), as true-positive rate (marked found) and false-positive
  rate (clean found) at the 0.5 threshold and at the "certain" threshold (0.98);
- fingerprints: a clip found among all clips after each transform, and false matches;
- DNSMOS (speechmos) of the clean and the marked clips;
- estimated word timestamps against Whisper tiny.en's word times (itself off by tens of
  milliseconds): the median and 90th percentile of the start difference.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.*

from bench.clone import dnsmos_overall

from scaispeak.settings import EngineSettings, Settings
from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.engines.registry import build_engines
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.provenance import fingerprint as fp
from scaispeak.speak.provenance.watermark import (
    CERTAIN_THRESHOLD,
    DETECTION_THRESHOLD,
    shared_watermarker,
)
from scaispeak.speak.synthesis.audio import AudioFormat, resample
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import SpeechSpec
from scaispeak.speak.synthesis.text import Segment
from tests.speak.provenance.conftest import TRANSFORMS, decoded, in_a_room
from tests.support.asr import _whisper

TEXTS = (
    "The quick brown fox jumps over the lazy dog, then runs into the forest to hide.",
    "Please remember to bring an umbrella tomorrow; the forecast says rain all day.",
    "Our quarterly revenue grew by twelve percent, driven by the new subscription plans.",
    "When the morning train pulled into the station, the platform was already crowded.",
)
VOICES = (
    ("piper", "en_US-joe-medium"),
    ("kokoro", "jf_alpha"),
    ("kokoro", "jm_kumo"),
    ("kokoro", "jf_nezumi"),
)
FIRST_CLAUSE = "Sure, here is what I found,"
Clip = tuple[Pcm, int]


def build_pipeline() -> tuple[SynthesisPipeline, InferencePool]:
    engines = build_engines(Settings(data_dir=Path(tempfile.mkdtemp())))
    engines.warm_all()
    pool = InferencePool(1)
    metrics = SpeakMetrics(CollectorRegistry())
    return SynthesisPipeline(engines, pool, EngineSettings(), metrics), pool


def render(pipeline: SynthesisPipeline, text: str, engine: str, voice: str, mark: bool) -> Clip:
    rate = pipeline.engines.get(engine).sample_rate
    spec = SpeechSpec(text, engine, voice, AudioFormat.wav, rate, watermark=mark)
    return decoded(asyncio.run(pipeline.render(spec)).data)


def marking_cost(clean: list[Clip]) -> list[float]:
    """Seconds of marking per second of audio, per clip (the model is already loaded)."""
    costs = []
    for pcm, rate in clean:
        started = time.perf_counter()
        shared_watermarker().embed(pcm, rate)
        costs.append((time.perf_counter() - started) / (pcm.size / rate))
    return costs


def first_clause_seconds(pipeline: SynthesisPipeline, mark: bool, runs: int = 7) -> float:
    """Median wall time of speaking a stream's first clause (engine, level, mark)."""
    segment = Segment(FIRST_CLAUSE, "clause")

    async def once() -> float:
        started = time.perf_counter()
        await pipeline.speak_segment(0, segment, "piper", "en_US-joe-medium", 1.0, watermark=mark)
        return time.perf_counter() - started

    return statistics.median(asyncio.run(once()) for _ in range(runs))


def rates(scores: list[float], threshold: float) -> float:
    return sum(s >= threshold for s in scores) / len(scores)


Transform = Callable[[Pcm, int], Clip]


def all_transforms() -> dict[str, Transform]:
    return {**TRANSFORMS, "room (reverb, hum, hiss)": lambda p, r: (in_a_room(p, r, 1), r)}


def detection_table(clean: list[Clip], marked: list[Clip]) -> None:
    low, high = DETECTION_THRESHOLD, CERTAIN_THRESHOLD
    print(
        f"\n| transform | TPR @{low:g} | FPR @{low:g} | TPR @{high:g} | FPR @{high:g} "
        "| marked min | clean max |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, transform in all_transforms().items():
        detect = shared_watermarker().detect
        hits = [detect(*transform(p, r)) for p, r in marked]
        alarms = [detect(*transform(p, r)) for p, r in clean]
        print(
            f"| {name} | {rates(hits, DETECTION_THRESHOLD):.0%} | "
            f"{rates(alarms, DETECTION_THRESHOLD):.0%} | {rates(hits, CERTAIN_THRESHOLD):.0%} | "
            f"{rates(alarms, CERTAIN_THRESHOLD):.0%} | {min(hits):.3f} | {max(alarms):.3f} |"
        )


def fingerprint_table(clean: list[Clip]) -> None:
    stored = [fp.fingerprint(p, r) for p, r in clean]
    print("\n| transform | found (own clip) | worst BER own | false matches | best BER other |")
    print("|---|---|---|---|---|")
    for name, transform in all_transforms().items():
        found, own, false, other = 0, [], 0, []
        for index, (pcm, rate) in enumerate(clean):
            results = [fp.match(fp.fingerprint(*transform(pcm, rate)), s) for s in stored]
            found += results[index].matched
            own.append(results[index].ber)
            rest = [r for i, r in enumerate(results) if i != index]
            false += sum(r.matched for r in rest)
            other.append(min(r.ber for r in rest))
        print(
            f"| {name} | {found}/{len(clean)} | {max(own):.3f} | {false}/"
            f"{len(clean) * (len(clean) - 1)} | {min(other):.3f} |"
        )


def _letters(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalpha())


def timestamp_agreement(pipeline: SynthesisPipeline, pairs: list[tuple[str, str, str]]) -> None:
    """Our estimated word starts against Whisper's, on words both agree were said."""
    gaps: list[float] = []
    for text, engine, voice in pairs:
        rate = pipeline.engines.get(engine).sample_rate
        spec = SpeechSpec(text, engine, voice, AudioFormat.wav, rate, timestamps=True)
        clip = asyncio.run(pipeline.render(spec))
        pcm, decoded_rate = decoded(clip.data)
        audio = resample(pcm, decoded_rate, 16_000)
        segments, _ = _whisper().transcribe(audio, beam_size=5, word_timestamps=True)
        heard = [(_letters(w.word), w.start) for seg in segments for w in seg.words]
        ours = [(_letters(w.word), w.start_s) for w in clip.words]
        if [h for h, _ in heard] != [o for o, _ in ours]:
            continue  # a misheard or differently split word: no one-to-one alignment
        gaps += [abs(a - b) for (_, a), (_, b) in zip(heard, ours, strict=True)]
    if gaps:
        gaps.sort()
        median, p90 = statistics.median(gaps), gaps[int(0.9 * len(gaps))]
        print(
            f"\nword starts vs Whisper ({len(gaps)} words): "
            f"median {median * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=3)
    parser.add_argument(
        "--detection-only", action="store_true", help="only the detection table (a minute)"
    )
    args = parser.parse_args()
    pipeline, pool = build_pipeline()
    shared_watermarker().warm()
    pairs = [(t, e, v) for t in TEXTS[: args.texts] for e, v in VOICES]
    clean = [render(pipeline, t, e, v, False) for t, e, v in pairs]
    marked = [render(pipeline, t, e, v, True) for t, e, v in pairs]
    seconds = sum(p.size / r for p, r in clean)
    print(f"{len(clean)} clips, {seconds:.1f} s of speech per set")
    if args.detection_only:
        detection_table(clean, marked)
        return
    cost = marking_cost(clean)
    print(
        f"marking: {statistics.median(cost) * 1000:.0f} ms per second of audio "
        f"(median; max {max(cost) * 1000:.0f} ms)"
    )
    plain, with_mark = first_clause_seconds(pipeline, False), first_clause_seconds(pipeline, True)
    print(
        f"first clause ({FIRST_CLAUSE!r}, joe): {plain * 1000:.0f} ms unmarked, "
        f"{with_mark * 1000:.0f} ms marked (+{(with_mark - plain) * 1000:.0f} ms)"
    )
    detection_table(clean, marked)
    fingerprint_table(clean)
    before = statistics.mean(dnsmos_overall(p, r) for p, r in clean)
    after = statistics.mean(dnsmos_overall(p, r) for p, r in marked)
    print(f"\nDNSMOS overall (mean of {len(clean)}): clean {before:.3f}, marked {after:.3f}")
    timestamp_agreement(pipeline, pairs)
    pool.shutdown()


if __name__ == "__main__":
    main()
