"""The evolution strategy: improves a score, and stops at its evaluation and time limits."""

from __future__ import annotations

import numpy as np

from scaispeak.speak.engines.cloning.search import SearchLimits, evolve

TARGET = np.linspace(-1, 1, 8).astype(np.float32)


def _closeness(vector: np.ndarray) -> float:
    return -float(np.sum((vector - TARGET) ** 2))


def test_search_approaches_the_optimum() -> None:
    start = np.zeros(8, np.float32)
    trace = evolve(_closeness, start, SearchLimits(max_evaluations=200, deadline=1e9, step=0.3))
    assert trace.best_score > 0.2 * _closeness(start)
    assert trace.evaluations == 200
    assert trace.improvements[0][2] == _closeness(start)
    assert [entry[2] for entry in trace.improvements] == sorted(e[2] for e in trace.improvements)


def test_search_is_repeatable_with_a_seed() -> None:
    limits = SearchLimits(max_evaluations=30, deadline=1e9, step=0.3, seed=7)
    first = evolve(_closeness, np.zeros(8, np.float32), limits)
    second = evolve(_closeness, np.zeros(8, np.float32), limits)
    np.testing.assert_array_equal(first.best, second.best)


def test_search_keeps_time_for_the_callers_reserved_work() -> None:
    now = [0.0]

    def slow_score(vector: np.ndarray) -> float:
        now[0] += 1.0  # every evaluation takes one "second"
        return _closeness(vector)

    limits = SearchLimits(
        max_evaluations=1000, deadline=20.0, step=0.3, population=2, reserve_evaluations=5
    )
    trace = evolve(slow_score, np.zeros(8, np.float32), limits, clock=lambda: now[0])
    # 20 s budget, 5 s reserved: generations of two stop before passing 15 s.
    assert now[0] <= 15.0
    assert trace.evaluations >= 13


def test_stages_pick_the_best_so_far_at_even_marks() -> None:
    trace = evolve(
        _closeness, np.zeros(8, np.float32), SearchLimits(max_evaluations=60, deadline=1e9, step=1)
    )
    stages = trace.stages(3)
    assert stages[0][1] == trace.improvements[0][2]
    assert stages[-1][1] == trace.best_score
    assert [score for _, score in stages] == sorted(score for _, score in stages)


def test_a_mask_freezes_coordinates_and_phases_chain() -> None:
    mask = np.array([1, 1, 0, 0, 0, 0, 0, 0], np.float32)
    start = np.zeros(8, np.float32)
    first = evolve(
        _closeness, start, SearchLimits(max_evaluations=20, deadline=1e9, step=0.3, mask=mask)
    )
    np.testing.assert_array_equal(first.best[2:], 0)
    later = evolve(
        _closeness,
        first.best,
        SearchLimits(max_evaluations=20, deadline=1e9, step=0.3),
        start_score=first.best_score,
    )
    both = first.then(later)
    assert both.evaluations == 40
    assert both.best_score == later.best_score >= first.best_score
    assert [n for n, _, _ in both.improvements] == sorted(n for n, _, _ in both.improvements)
