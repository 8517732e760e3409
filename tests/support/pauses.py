"""Where a pause is in real speech: the objective check of placed word times."""

from __future__ import annotations

import numpy as np

from scaispeak.speak.engines.base import Pcm, WordSpans
from scaispeak.speak.synthesis.timestamps import words_from_spans

COMMA_TEXT = "There is a cat in the hat, on the mat."


def longest_quiet_run(pcm: Pcm, rate: int, start_s: float, end_s: float) -> tuple[float, float]:
    """Where the longest stretch 35 dB below the clip's loudest 5 ms lies, between two times."""
    step = rate // 200
    frames = pcm[: pcm.size - pcm.size % step].astype(np.float64).reshape(-1, step)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
    quiet = level < level.max() - 35
    best, run_start = (0, 0), None
    first, last = int(start_s * 200), min(len(quiet), int(end_s * 200))
    for k in range(first, last + 1):
        if k < last and quiet[k]:
            run_start = k if run_start is None else run_start
        elif run_start is not None:
            best = max(best, (run_start, k), key=lambda r: r[1] - r[0])
            run_start = None
    return best[0] / 200, best[1] / 200


def assert_comma_pause_between_words(pcm: Pcm, rate: int, spans: WordSpans | None) -> None:
    """For COMMA_TEXT spoken as ``pcm``: the comma's pause is silence in the audio, so
    "on" must begin where speech resumes (within 40 ms), and "hat," end inside the
    silence (a final "t" is a silent closure first, so it ends after the sound stops).
    An estimate that spreads words over the speech puts "on" inside the pause (a median
    126 ms early over 31 such pauses, bench/timestamps.py) and fails this."""
    assert spans is not None, "the engine could not place its words"
    words = words_from_spans(COMMA_TEXT, spans)
    assert words is not None
    hat, on = words[6], words[7]
    assert (hat.word, on.word) == ("hat,", "on")
    quiet_from, quiet_to = longest_quiet_run(pcm, rate, hat.start_s, on.end_s)
    assert quiet_to - quiet_from > 0.1, "no comma pause in this rendition"
    assert abs(on.start_s - quiet_to) < 0.04, (on, quiet_to)
    assert quiet_from - 0.04 < hat.end_s <= on.start_s, (hat, quiet_from)
