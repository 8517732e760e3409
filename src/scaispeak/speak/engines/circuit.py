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


HOLD_OFF_MAX_S = 300.0


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
        self._held_until: float | None = None  # a pause the upstream asked for
        self._trial: Permit | None = None
        self._lock = threading.Lock()
        self.last_error = ""

    @property
    def state(self) -> CircuitState:
        if self.held_for() > 0:
            return CircuitState.open
        if self._trial_at is None:
            return CircuitState.closed
        if self._clock() >= self._trial_at:
            return CircuitState.half_open
        return CircuitState.open

    @property
    def longest_hold_s(self) -> float:
        """A Retry-After past this (a maintenance page's "one day") is held this long:
        only a restart would otherwise bring the upstream back."""
        return max(self.cooldown_s, HOLD_OFF_MAX_S)

    def hold_off(self, seconds: float, error: str) -> None:
        """The upstream asked for no calls for ``seconds`` (a 429's Retry-After): the
        circuit is open until then whatever else happens (a call sent before the pause
        that succeeds, a failure's shorter cooldown), then lets one trial through."""
        with self._lock:
            self.last_error = error
            until = self._clock() + min(seconds, self.longest_hold_s)
            self._held_until = max(self._held_until or until, until)
            self._trial_at = max(self._trial_at or until, until)

    def held_for(self) -> float:
        """Seconds left of a pause the upstream asked for (0 when none)."""
        if self._held_until is None:
            return 0.0
        return max(0.0, self._held_until - self._clock())

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
            if self.held_for() == 0:  # a call sent before a pause does not end it
                self._trial_at = None
            if self._trial is permit:
                self._trial = None

    def _failed(self, permit: Permit, error: str) -> None:
        with self._lock:
            self.last_error = error
            self._failures += 1
            if self._trial is permit or self._failures >= self.failure_threshold:
                self._trial_at = max(self._clock() + self.cooldown_s, self._held_until or 0.0)
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
