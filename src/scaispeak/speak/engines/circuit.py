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

    Every call let through holds a ``Permit`` and reports one outcome on it: succeeded,
    failed, or abandoned (cancelled, or ended in a way that says nothing about the
    upstream's health). An abandoned trial frees the half-open slot for the next call;
    a trial that never reported would refuse every later call until a restart.
    """

    def __init__(
        self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failure_threshold = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._trial_at: float | None = None  # open until then; None while closed
        self._trial: Permit | None = None
        self._lock = threading.Lock()
        self.last_error = ""

    @property
    def state(self) -> CircuitState:
        if self._trial_at is None:
            return CircuitState.closed
        if self._clock() >= self._trial_at:
            return CircuitState.half_open
        return CircuitState.open

    def hold_off(self, seconds: float, error: str) -> None:
        """The upstream asked for no calls for ``seconds`` (a 429's Retry-After): the
        circuit opens until then, whatever the count of failures."""
        with self._lock:
            self.last_error = error
            until = self._clock() + seconds
            self._trial_at = max(self._trial_at or until, until)

    def refused(self, error: str) -> None:
        """The upstream refused a call as ours to fix (a 4xx): not a failure of its
        health, but an operator's to see (a revoked key refuses every call)."""
        with self._lock:
            self.last_error = error

    def allow(self) -> Permit | None:
        """A permit for one call, or None while the circuit refuses calls."""
        with self._lock:
            state = self.state
            if state is CircuitState.closed:
                return Permit(self)
            if state is CircuitState.half_open and self._trial is None:
                self._trial = Permit(self)
                return self._trial
            return None

    def _succeeded(self, permit: Permit) -> None:
        with self._lock:
            self._failures = 0
            self._trial_at = None
            if self._trial is permit:
                self._trial = None

    def _failed(self, permit: Permit, error: str) -> None:
        with self._lock:
            self.last_error = error
            self._failures += 1
            if self._trial is permit or self._failures >= self.failure_threshold:
                self._trial_at = self._clock() + self.cooldown_s
            if self._trial is permit:
                self._trial = None

    def _abandoned(self, permit: Permit) -> None:
        with self._lock:
            if self._trial is permit:
                self._trial = None  # still half-open: the next call probes instead


class Permit:
    """One call let through the breaker. Only its first reported outcome counts, so a
    ``finally: permit.abandoned()`` after a success or failure changes nothing."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker
        self._settled = False

    def succeeded(self) -> None:
        if self._settle():
            self._breaker._succeeded(self)

    def failed(self, error: str) -> None:
        if self._settle():
            self._breaker._failed(self, error)

    def abandoned(self) -> None:
        if self._settle():
            self._breaker._abandoned(self)

    def _settle(self) -> bool:
        first, self._settled = not self._settled, True
        return first
