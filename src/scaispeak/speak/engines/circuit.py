"""A small circuit breaker: stop calling an upstream that keeps failing, then probe it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class CircuitBreaker:
    """Closed: calls flow. ``failures`` in a row open it; while open, calls are refused
    for ``cooldown_s``; then one trial call is let through (half-open): success closes
    the circuit, failure opens it again for another cooldown.
    """

    def __init__(
        self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failure_threshold = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._lock = threading.Lock()
        self.last_error = ""

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.closed
        if self._clock() - self._opened_at >= self.cooldown_s:
            return CircuitState.half_open
        return CircuitState.open

    def allow(self) -> bool:
        with self._lock:
            state = self.state
            if state is CircuitState.closed:
                return True
            if state is CircuitState.half_open and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self, error: str) -> None:
        with self._lock:
            self.last_error = error
            self._failures += 1
            if self._trial_running or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._trial_running = False
