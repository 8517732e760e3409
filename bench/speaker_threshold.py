"""Calibrate the consent speaker-verification threshold on speakers made from stock voices.

    .venv/bin/python bench/speaker_threshold.py

Speakers: Piper's joe, Kokoro's five style tables, and two 50/50 mixes of Kokoro
tables (new "speakers" close to their parents: the hardest impostors we can make).
Each speaker reads the reference passage and two consent statements (different
one-time phrases). Genuine pair: a speaker's reference against their own consent
reading; impostor pair: a reference against another speaker's consent reading. The
score is the one intake uses (``verification.match_speakers``: Resemblyzer cosine of
whole-clip embeddings). Prints the score distributions, the errors at a range of
thresholds and the equal-error point; docs/voices.md records the run.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from scaispeak.settings import Settings
from scaispeak.speak.engines.base import Engine, Pcm
from scaispeak.speak.engines.kokoro import KokoroEngine
from scaispeak.speak.engines.registry import build_engines
from scaispeak.speak.voices.audio_input import DecodedAudio
from scaispeak.speak.voices.statement import compose_statement
from scaispeak.speak.voices.verification import match_speakers

REFERENCE = (
    "The old lighthouse keeper climbed the stairs every evening. He watched the ships "
    "pass in the distance and wrote their names in a small notebook. On stormy nights "
    "he kept the lamp burning until dawn."
)
CONSENTS = (
    compose_statement("Alex Morgan", "ScaiSpeak", "amber river lantern seven"),
    compose_statement("Alex Morgan", "ScaiSpeak", "copper tiger wizard olive"),
)
MIXES = (("jf_alpha", "jm_kumo"), ("jf_nezumi", "jf_tebukuro"))
Speak = Callable[[str], Pcm]
THRESHOLDS = (0.80, 0.85, 0.88, 0.90, 0.91, 0.92, 0.93, 0.94)


def speakers(data_dir: Path) -> dict[str, tuple[Speak, int]]:
    """Speaker name -> a callable speaking text, and its sample rate."""
    registry = build_engines(Settings(data_dir=data_dir))
    registry.warm_all()
    piper, kokoro = registry.get("piper"), registry.get("kokoro")
    assert isinstance(piper, Engine) and isinstance(kokoro, KokoroEngine)
    found: dict[str, tuple[Speak, int]] = {
        "piper:joe": (partial(piper.synthesize, voice="en_US-joe-medium"), piper.sample_rate)
    }
    for voice in kokoro.voices():
        found[f"kokoro:{voice.key}"] = (
            partial(kokoro.synthesize, voice=voice.key),
            kokoro.sample_rate,
        )
    tables = kokoro.style_tables()
    for a, b in MIXES:
        table = ((np.asarray(tables[a]) + np.asarray(tables[b])) / 2).astype(np.float32)
        found[f"mix:{a}+{b}"] = (partial(kokoro.synthesize_style, table=table), kokoro.sample_rate)
    return found


def clip(pcm: Pcm, rate: int) -> DecodedAudio:
    return DecodedAudio(np.asarray(pcm, np.float32), rate, "wav", "pcm", 1)


def main() -> None:
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        voices = speakers(Path(tmp))
        refs, consents = {}, {}
        for name, (speak, rate) in voices.items():
            refs[name] = clip(speak(REFERENCE), rate)
            consents[name] = [clip(speak(text), rate) for text in CONSENTS]
            print(f"synthesized {name}", file=sys.stderr, flush=True)
    genuine: list[tuple[float, str, str]] = []
    impostor: list[tuple[float, str, str]] = []
    for a, b in itertools.product(voices, voices):
        for consent in consents[b]:
            score = match_speakers(refs[a], consent, 0.0).score or 0.0
            (genuine if a == b else impostor).append((score, a, b))
    report(genuine, impostor)
    print(f"\n{len(voices)} speakers, {time.monotonic() - began:.0f} s")


def related(a: str, b: str) -> bool:
    """A mix and one of the tables it blends: half the same voice, not a real impostor."""
    parents = {name.split(":")[1] for name in (a, b) if name.startswith("kokoro:")}
    mixes = [name for name in (a, b) if name.startswith("mix:")]
    return any(parent in mix for parent in parents for mix in mixes)


def report(genuine: list[tuple[float, str, str]], impostor: list[tuple[float, str, str]]) -> None:
    g = sorted(s for s, _, _ in genuine)
    i = sorted(s for s, _, _ in impostor)
    distinct = sorted(s for s, a, b in impostor if not related(a, b))
    print(
        f"impostors between distinct voices (no mix against its own parent): n={len(distinct)}"
        f"  max {distinct[-1]:.3f}"
    )
    print(
        f"genuine  n={len(g)}  min {g[0]:.3f}  median {statistics.median(g):.3f}  max {g[-1]:.3f}"
    )
    print(
        f"impostor n={len(i)}  min {i[0]:.3f}  median {statistics.median(i):.3f}  max {i[-1]:.3f}"
    )
    print("\n| threshold | genuine rejected | impostors accepted | of them distinct voices |")
    print("|---|---|---|---|")
    for t in THRESHOLDS:
        frr = sum(s < t for s in g)
        far = sum(s >= t for s in i)
        far_distinct = sum(s >= t for s in distinct)
        print(f"| {t:.2f} | {frr}/{len(g)} | {far}/{len(i)} | {far_distinct}/{len(distinct)} |")
    print("\nclosest impostors:")
    for score, a, b in sorted(impostor, reverse=True)[:6]:
        print(f"  {score:.3f}  reference {a}  consent {b}")
    print("weakest genuine:")
    for score, a, _ in sorted(genuine)[:3]:
        print(f"  {score:.3f}  {a}")


if __name__ == "__main__":
    main()
