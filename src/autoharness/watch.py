"""Live counters and the time budget of one evaluation, shared by the threads that play it.

An evaluation (the learner's rollouts of one code version, or ``eval``'s matches of one agent) can run for
a long time: a policy harness that searches a few plies per move made one evaluation of 10 games × 1,000
steps last over 40 minutes. ``EvalWatch`` counts games finished, steps and the slowest harness call as they
happen, reports them (``on_change``, throttled), and says when the evaluation's time budget
(``--eval-seconds``) is spent: games still running are then cut and reported as cut, never as played.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

REPORT_EVERY = 0.5
"""Seconds between two reports of steps (a finished game is reported at once)."""


class EvalWatch:
    """Thread-safe counters of one evaluation of ``games`` games, with an optional budget of ``seconds``."""

    def __init__(
        self,
        games: int,
        seconds: float | None = None,
        on_change: Callable[[EvalWatch], None] | None = None,
        label: str = "",
    ) -> None:
        self.games, self.seconds, self.label = games, seconds, label
        self.start = time.monotonic()
        self.deadline = None if seconds is None else self.start + seconds
        self.finished = 0  # games played to their end (or to the step cap)
        self.cut = 0  # games cut by the time budget
        self.steps = 0
        self.slowest: tuple[float, str] | None = None  # (seconds, function) of the slowest harness call
        self._on_change = on_change
        self._lock = threading.Lock()
        self._reported = 0.0
        self._begun = False

    def begin(self) -> None:
        """Start the clock now if no game has started yet (the first caller wins): setting up the sandbox
        and the agents is not the evaluation's play, and on a loaded machine it can take seconds."""
        with self._lock:
            if self.steps or self.finished or self.cut or self._begun:
                return
            self._begun = True
            self.start = time.monotonic()
            self.deadline = None if self.seconds is None else self.start + self.seconds

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def expired(self) -> bool:
        """The time budget is spent: start no further step, no further game."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def step(self) -> None:
        with self._lock:
            self.steps += 1
            due = time.monotonic() - self._reported >= REPORT_EVERY
        if due:
            self._report()

    def call(self, function: str, seconds: float) -> None:
        """A harness call took ``seconds`` (``sandbox.HarnessSession.on_call``)."""
        with self._lock:
            if self.slowest is None or seconds > self.slowest[0]:
                self.slowest = (seconds, function)

    def game_over(self, cut: bool = False) -> None:
        with self._lock:
            if cut:
                self.cut += 1
            else:
                self.finished += 1
        self._report()

    def _report(self) -> None:
        self._reported = time.monotonic()
        if self._on_change is not None:
            self._on_change(self)

    def line(self) -> str:
        """One line for a display: games finished, steps, elapsed (of the budget), the slowest call."""
        budget = f" of {self.seconds:g} s" if self.seconds is not None else ""
        parts = [f"games {self.finished}/{self.games}", f"{self.steps:,} steps"]
        parts.append(f"{self.elapsed:.0f} s{budget}")
        if self.slowest is not None:
            parts.append(f"slowest call {self.slowest[0]:.2f} s ({self.slowest[1]})")
        if self.cut:
            parts.append(f"{self.cut} cut by the time budget")
        return " · ".join(parts)


__all__ = ["REPORT_EVERY", "EvalWatch"]
