"""Word timestamps: Piper's own durations against the estimate, on the same audio.

    .venv/bin/python bench/timestamps.py [--rounds 3]

Each sentence is spoken by the Piper engine (``synthesize_timed``); on that audio the
words' times come two ways: placed from the voice's durations (engines/vits_words.py,
what the service reports now) and estimated by sharing the trimmed speech among the
words (synthesis/timestamps.py, the baseline, what it reported before). Two measures:

1. Speech onsets (objective): wherever the audio holds a pause of 120 ms or more
   (35 dB under the clip's loudest 5 ms: commas, sentence breaks), the first word after
   it should start where the sound resumes. Printed: |word start - onset|.
2. Whisper (tiny.en, the tests' model, word_timestamps), on the sentences where it heard
   exactly our words, leaving out each clip's first word (Whisper puts it at 0.0 s
   whatever the leading silence). Whisper's own word times are off by tens of ms and
   lean late, so this bounds the error from above; the signed median shows the lean.

Also: in how many sentences espeak's words lined up with the text's (the rest fall
back to the estimate), and what placing the words costs next to synthesis.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.*

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.engines.piper import VOICE_KEY, PiperEngine
from scaispeak.speak.synthesis.audio import resample
from scaispeak.speak.synthesis.text import normalize_text
from scaispeak.speak.synthesis.timestamps import WordTiming, estimate_words, words_from_spans
from tests.support.asr import _whisper

SENTENCES = (
    "The harbour was quiet when the first boats came back.",
    "Fishermen unloaded their catch and argued about the weather.",
    "By seven o'clock the market had opened.",
    "Buyers from three towns walked between the stalls, tasting and haggling.",
    "Nobody noticed the stranger on the sea wall.",
    "He watched the water as if he expected something to rise from it.",
    "Your order will arrive on Tuesday morning.",
    "Please hold while I transfer you to the next available agent.",
    "It is going to rain later, so take an umbrella.",
    "Would you like a cup of tea?",
    "It costs $42.50 on March 3rd.",
    "I'm in the middle of it, and it's a lot of work.",
    "What do you want to do at the end of the day?",
    "There is a cat in the hat, on the mat.",
    "The quick brown fox jumps over the lazy dog, then runs into the forest to hide.",
    "Our quarterly revenue grew by twelve percent, driven by the new subscription plans.",
    "When the morning train pulled into the station, the platform was already crowded.",
    "Please remember to bring an umbrella tomorrow; the forecast says rain all day.",
)
FRAME_S = 0.005
PAUSE_S = 0.12
QUIET_DB = -35.0


@dataclass
class Errors:
    onset: list[float] = field(default_factory=list)
    whisper_start: list[float] = field(default_factory=list)
    whisper_end: list[float] = field(default_factory=list)


def letters(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalpha())


def pauses(pcm: Pcm, rate: int) -> list[tuple[float, float]]:
    """Interior stretches of at least PAUSE_S that are QUIET_DB under the loudest frame."""
    step = int(rate * FRAME_S)
    frames = pcm[: pcm.size - pcm.size % step].astype(np.float64).reshape(-1, step)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
    quiet = level < level.max() + QUIET_DB
    found, start = [], None
    for k, still in enumerate(quiet):
        if still and start is None:
            start = k
        elif not still and start is not None:
            if start > 0 and (k - start) * FRAME_S >= PAUSE_S:
                found.append((start * FRAME_S, k * FRAME_S))
            start = None
    return found


def onset_errors(words: list[WordTiming], gaps: list[tuple[float, float]]) -> list[float]:
    """For each pause, the first word starting after it begins: how far from the onset."""
    out = []
    for begins, ends in gaps:
        after = [w for w in words if w.start_s >= begins - 0.03]
        if after:
            out.append(after[0].start_s - ends)
    return out


def heard_words(pcm: Pcm, rate: int) -> list[tuple[str, float, float]]:
    audio = resample(pcm, rate, 16_000)
    segments, _ = _whisper().transcribe(audio, beam_size=5, word_timestamps=True)
    return [(letters(w.word), w.start, w.end) for seg in segments for w in seg.words]


def add_whisper(
    errors: Errors, heard: list[tuple[str, float, float]], ours: list[WordTiming]
) -> None:
    for (_, start, end), word in list(zip(heard, ours, strict=True))[1:]:
        errors.whisper_start.append(word.start_s - start)
        errors.whisper_end.append(word.end_s - end)


def summary(values: list[float]) -> str:
    absolute = sorted(abs(v) for v in values)
    p90 = absolute[int(0.9 * (len(absolute) - 1))]
    return (
        f"|error| median {statistics.median(absolute) * 1000:4.0f} ms, p90 {p90 * 1000:4.0f} ms;"
        f" signed median {statistics.median(values) * 1000:+4.0f} ms (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="each sentence spoken this often")
    args = parser.parse_args()
    engine = PiperEngine()
    engine.warm()
    rate = engine.sample_rate
    placed, estimated = Errors(), Errors()
    lined_up = total = whisper_agreed = 0
    synth_s = placing_s = 0.0
    for _ in range(args.rounds):
        for text in SENTENCES:
            total += 1
            spoken = normalize_text(text)
            started = time.perf_counter()
            timed = engine.synthesize_timed(spoken, VOICE_KEY)
            synth_s += time.perf_counter() - started
            loaded, sentences = engine._spoken(spoken, VOICE_KEY, 1.0)  # placing, timed alone
            started = time.perf_counter()
            engine._word_spans(loaded, spoken, sentences)
            placing_s += time.perf_counter() - started
            ours = words_from_spans(text, timed.word_spans) if timed.word_spans else None
            if ours is None:
                continue
            lined_up += 1
            guessed = estimate_words(text, timed.pcm, rate)
            gaps = pauses(timed.pcm, rate)
            placed.onset += onset_errors(ours, gaps)
            estimated.onset += onset_errors(guessed, gaps)
            heard = heard_words(timed.pcm, rate)
            if [h[0] for h in heard] == [letters(w.word) for w in ours]:
                whisper_agreed += 1
                add_whisper(placed, heard, ours)
                add_whisper(estimated, heard, guessed)
    print(f"{total} sentences spoken; words placed from durations in {lined_up}/{total}")
    print(f"\n1. start of the first word after a pause >= {PAUSE_S * 1000:.0f} ms vs the onset")
    print(f"   placed:    {summary(placed.onset)}")
    print(f"   estimated: {summary(estimated.onset)}")
    ratio = statistics.median(map(abs, placed.onset)) / statistics.median(map(abs, estimated.onset))
    print(f"   median |error|, placed / estimated: {ratio:.2f}")
    print(f"\n2. against Whisper ({whisper_agreed} sentences heard word for word, first words out)")
    print(f"   start, placed:    {summary(placed.whisper_start)}")
    print(f"   start, estimated: {summary(estimated.whisper_start)}")
    print(f"   end,   placed:    {summary(placed.whisper_end)}")
    print(f"   end,   estimated: {summary(estimated.whisper_end)}")
    print(
        f"\nplacing the words: {placing_s / total * 1000:.2f} ms a sentence; synthesis "
        f"{synth_s / total * 1000:.0f} ms ({placing_s / synth_s * 100:.2f} % of it)"
    )


if __name__ == "__main__":
    main()
