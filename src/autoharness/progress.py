"""A suite game's live progress: what phase its worker is in and how far along, readable from any shell.

Games of a suite run in worker processes for up to hours (a 300-position verification of a game without a
move list costs seconds per position), and ``suite.json`` changes only when a game starts or ends. So each
worker writes ``games/<game>/progress.json`` (``PROGRESS_FILE``), replaced atomically, at each phase change
and at most every ``WRITE_EVERY`` seconds within a phase::

    {"format": "autoharness-progress", "version": 1, "game": ID, "pid": WORKER_PID, "host": HOSTNAME,
     "phase": "score|verify-reused|learn|verify|evaluate", "done": N|null, "total": N|null,
     "detail": "one line", "phase_started": ISO, "updated": ISO}

Phases: ``score`` (the family's library harness on this game's training seeds: games), ``verify-reused``
(verifying that harness reused unchanged: positions), ``learn`` (an iteration: its LLM call or its
evaluation), ``verify`` (the learner's verification of its chosen node: positions), ``evaluate`` (the
paper-protocol evaluation: matches). ``done``/``total`` count what the phase counts, null when it has no
count (waiting for an LLM reply). The file is only read by people (``autoharness suite --status``) and by
the suite's display, never by ``--resume``: a run killed mid-write leaves at most a ``.progress.json.*.tmp``
beside it, which nothing reads. The scheduler removes the file when it starts the game again.

An entry is *stale* when the process that wrote it is gone (``stale``): the suite was killed (or the
worker died) while the game was in that phase; ``--resume`` starts that game again (its learner resumes its
run, so finished iterations are kept; the phase shown is redone).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._files import LOCK_FILE, atomic_write
from ._terminal import printable

PROGRESS_FILE = "progress.json"
PROGRESS_FORMAT = "autoharness-progress"
PROGRESS_VERSION = 1
WRITE_EVERY = 2.0
"""Seconds between two writes within one phase (a phase change or a phase's last count is written at once)."""
PHASES = ("score", "verify-reused", "learn", "verify", "evaluate")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class GameProgress:
    """Writes one game's ``progress.json`` from its worker process (thread-safe: evaluations report from
    rollout threads), throttled to one write per ``WRITE_EVERY`` seconds within a phase."""

    def __init__(self, game_dir: Path, game: str) -> None:
        self.path = Path(game_dir) / PROGRESS_FILE
        self.game = game
        self._lock = threading.Lock()
        self._phase: str | None = None
        self._phase_started = _now()
        self._written = 0.0

    def update(
        self, phase: str, detail: str, done: int | None = None, total: int | None = None, force: bool = False
    ) -> None:
        """Report ``phase`` (one of ``PHASES``) with ``done`` of ``total`` and a one-line ``detail``;
        ``force``: write now (a step within the phase that may then last long, e.g. an LLM call)."""
        with self._lock:
            changed = phase != self._phase
            finished = done is not None and done == total
            if not (force or changed or finished or time.monotonic() - self._written >= WRITE_EVERY):
                return
            if changed:
                self._phase, self._phase_started = phase, _now()
            entry = {
                "format": PROGRESS_FORMAT,
                "version": PROGRESS_VERSION,
                "game": self.game,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "phase": phase,
                "done": done,
                "total": total,
                "detail": detail,
                "phase_started": self._phase_started,
                "updated": _now(),
            }
            try:
                atomic_write(self.path, json.dumps(entry) + "\n")
            except OSError:
                return  # progress is for people: a full disk must not fail the game
            self._written = time.monotonic()


def clear(game_dir: Path) -> None:
    """Remove a game's entry (the scheduler, before starting the game again: the old one is not its)."""
    (Path(game_dir) / PROGRESS_FILE).unlink(missing_ok=True)


def read(game_dir: Path) -> dict[str, Any] | None:
    """A game's entry, or None (none written yet, or not readable: it is only ever informative)."""
    try:
        data = json.loads((Path(game_dir) / PROGRESS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or (data.get("format"), data.get("version")) != (
        PROGRESS_FORMAT,
        PROGRESS_VERSION,
    ):
        return None
    return data


def alive(pid: object, host: object = None) -> bool | None:
    """Whether process ``pid`` (on ``host``; None: this one) still runs; None when it cannot be told
    (another machine, e.g. a Ray node)."""
    if host not in (None, socket.gethostname()):
        return None
    if type(pid) is not int or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def suite_pid(directory: Path) -> int | None:
    """The pid of the process running the suite in ``directory`` (the pid its lock file holds) while it
    runs; None when no suite process runs there (the lock file names a process that is gone)."""
    try:
        text = (Path(directory) / LOCK_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    pid = int(text) if text.isdigit() else None
    return pid if pid is not None and alive(pid) else None


def describe(entry: dict[str, Any] | None) -> str:
    """One line for a display: phase, count, detail, age."""
    if entry is None:
        return "starting (no progress reported yet)"
    phase = str(entry.get("phase"))
    done, total = entry.get("done"), entry.get("total")
    count = f" {done}/{total}" if isinstance(done, int) and isinstance(total, int) else ""
    detail = str(entry.get("detail") or "")
    since = _age(entry.get("phase_started"))
    return f"{phase}{count}" + (f" · {detail}" if detail else "") + (f" · phase for {since}" if since else "")


def stale(entry: dict[str, Any] | None) -> bool:
    """The process that wrote ``entry`` is gone (on this machine): it will not move again."""
    return entry is not None and alive(entry.get("pid"), entry.get("host")) is False


LOG_EVERY = 60.0
"""Seconds between two progress lines per running game when the display cannot redraw (a log file)."""
REDRAW_EVERY = 2.0
"""Seconds between two reads of the running games' entries on a terminal."""


class SuiteDisplay:
    """The running games' progress while a suite runs: lines redrawn every ``REDRAW_EVERY`` s on a terminal,
    else one plain line per running game every ``LOG_EVERY`` s (``[run] GAME  phase done/total · ...``).
    The scheduler tells it which games run (``started``/``ended``); it reads their entries itself."""

    def __init__(self, console: Any, game_dir: Callable[[str], Path]) -> None:
        from rich.live import Live

        self._console, self._game_dir = console, game_dir
        self._running: dict[str, None] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live = None
        if console.is_terminal:
            self._live = Live(
                console=console,
                get_renderable=self._render,
                refresh_per_second=1 / REDRAW_EVERY,
                transient=True,
            )

    def started(self, game: str) -> None:
        with self._lock:
            self._running[game] = None

    def ended(self, game: str) -> None:
        with self._lock:
            self._running.pop(game, None)

    def lines(self) -> list[str]:
        """One line per running game, in the order they started."""
        with self._lock:
            games = list(self._running)
        return [f"[run] {game:<28} {printable(describe(read(self._game_dir(game))))}" for game in games]

    def _render(self) -> Any:
        from rich.text import Text

        return Text("\n".join(self.lines()))

    def _log(self) -> None:
        while not self._stop.wait(LOG_EVERY):
            for line in self.lines():
                print(line, file=sys.stderr, flush=True)

    def __enter__(self) -> SuiteDisplay:
        if self._live is not None:
            self._live.__enter__()
        else:
            self._thread = threading.Thread(target=self._log, name="suite-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.__exit__(None, None, None)
        if self._thread is not None:
            self._thread.join(timeout=5)


def _age(stamp: object) -> str:
    """How long ago ISO ``stamp`` was, as ``5 s`` / ``3 min`` / ``2.1 h`` ('' when unreadable)."""
    try:
        seconds = (datetime.now(UTC) - datetime.fromisoformat(str(stamp))).total_seconds()
    except (TypeError, ValueError):
        return ""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


__all__ = [
    "LOG_EVERY",
    "PHASES",
    "PROGRESS_FILE",
    "WRITE_EVERY",
    "GameProgress",
    "SuiteDisplay",
    "alive",
    "clear",
    "describe",
    "read",
    "stale",
    "suite_pid",
]
