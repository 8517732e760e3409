"""A (1+λ) evolution strategy with the one-fifth success rule, under a deadline.

Each evaluation synthesizes speech and embeds it, about a second on two cores, so the
search has tens of evaluations, not thousands: a single-parent strategy whose step
size grows on success and shrinks on failure is as good as anything fancier at that
budget (measured against a random-subspace Gauss-Newton variant; see docs/cloning.md).
The trace keeps every improvement so the fitter can validate the best points at several
stages on held-out audio instead of trusting the last, most overfitted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scaispeak.speak.engines.cloning.styles import Vector

_GROW = 1.5
"""Step-size factor on success; failures shrink by its -1/4 power (the 1/5 rule)."""


@dataclass(frozen=True)
class SearchLimits:
    """How long the search may run: evaluations, wall time and the starting step size."""

    max_evaluations: int
    deadline: float
    """A ``clock()`` value by which the search and the reserved work after it must end."""
    step: float
    population: int = 1
    seed: int = 0
    mask: Vector | None = None
    """Per-coordinate step scale: 0 freezes a coordinate (a search over a subspace)."""
    reserve_evaluations: int = 0
    """Evaluations' worth of time kept for the caller's own work after the search."""


@dataclass
class SearchTrace:
    """What the search found: the best point and score, and every improvement on the way."""

    best: Vector
    best_score: float
    evaluations: int = 0
    improvements: list[tuple[int, Vector, float]] = field(default_factory=list)
    """(evaluations so far, point, score) each time the best improved, the start first."""

    def then(self, later: SearchTrace) -> SearchTrace:
        """This search followed by ``later``, which started from this one's best."""
        shifted = [(self.evaluations + n, p, v) for n, p, v in later.improvements[1:]]
        return SearchTrace(
            best=later.best,
            best_score=later.best_score,
            evaluations=self.evaluations + later.evaluations,
            improvements=[*self.improvements, *shifted],
        )

    def stages(self, count: int) -> list[tuple[Vector, float]]:
        """The best point at ``count`` evenly spaced stages of the search (ends included)."""
        chosen: list[tuple[Vector, float]] = []
        for i in range(count):
            mark = 1 + (self.evaluations - 1) * i / max(count - 1, 1)
            _, point, point_score = [entry for entry in self.improvements if entry[0] <= mark][-1]
            if not any(point_score == seen for _, seen in chosen):
                chosen.append((point, point_score))
        return chosen


def evolve(
    score: Callable[[Vector], float],
    start: Vector,
    limits: SearchLimits,
    *,
    start_score: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SearchTrace:
    """Maximise ``score`` from ``start``, which is scored first unless ``start_score``."""
    rng = np.random.default_rng(limits.seed)
    began = clock()
    if start_score is None:
        trace = SearchTrace(best=start.copy(), best_score=score(start), evaluations=1)
    else:
        trace = SearchTrace(best=start.copy(), best_score=start_score, evaluations=0)
    trace.improvements.append((trace.evaluations, trace.best, trace.best_score))
    step = limits.step
    while trace.evaluations + limits.population <= limits.max_evaluations:
        # Stop before a generation that would eat into the reserved time, judged by the
        # mean cost of the evaluations so far (they all synthesize the same sentence).
        now = clock()
        per_evaluation = (now - began) / max(trace.evaluations, 1)
        needed = (limits.population + limits.reserve_evaluations) * per_evaluation
        if now + needed > limits.deadline:
            break
        scale = np.float32(step) * (1 if limits.mask is None else limits.mask)
        children = [
            trace.best + scale * rng.standard_normal(start.shape).astype(np.float32)
            for _ in range(limits.population)
        ]
        scores = [score(child) for child in children]
        trace.evaluations += len(children)
        winner = int(np.argmax(scores))
        if scores[winner] > trace.best_score:
            trace.best, trace.best_score = children[winner], scores[winner]
            trace.improvements.append((trace.evaluations, trace.best, trace.best_score))
            step *= _GROW
        else:
            step *= _GROW ** (-1 / 4)
    return trace
