"""A machine whose sandbox cannot start harness processes (test code only).

Every sandbox worker, as soon as it is up, is left one free file descriptor: a low ``ulimit -n`` set on the
live zygote with ``prlimit``, as a machine would. Each load is then refused for real by the zygote
("socketpair failed (Too many open files)"); its retries are shortened to one, 10 ms later.
``starving()`` does it for a block of this process (``starving_after_first_load()``: once each worker's
first harness process is up); importing ``tests.starved_sandbox_everywhere`` does it for
a whole process (``LocalExecutor(preload=...)`` carries it into a suite's worker processes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from autoharness.sandbox import pool
from autoharness.sandbox.worker import Worker
from tests.processes import starve_files

_ensure = Worker.ensure
_pauses = pool.LOAD_RETRY_PAUSES


def _ensure_starved(self: Worker) -> None:
    fresh = not self.alive
    _ensure(self)
    if fresh:
        starve_files(self)


def install() -> None:
    Worker.ensure = _ensure_starved  # type: ignore[method-assign]
    pool.LOAD_RETRY_PAUSES = (0.01,)


def uninstall() -> None:
    Worker.ensure = _ensure  # type: ignore[method-assign]
    pool.LOAD_RETRY_PAUSES = _pauses


@contextmanager
def starving() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()


@contextmanager
def starving_after_first_load() -> Iterator[None]:
    """Each sandbox worker starts its first harness process, then runs out of descriptors: a harness that
    has to be started again (after its process died) is refused."""
    start = Worker.start

    def start_then_starve(self: Worker, source: str, mode: str, timeout: float) -> Any:
        channel = start(self, source, mode, timeout)
        self._tell({"op": "resume"})  # a harmless request: answered once the load is done (its socket closed)
        starve_files(self)
        return channel

    Worker.start = start_then_starve  # type: ignore[method-assign]
    pool.LOAD_RETRY_PAUSES = (0.01,)
    try:
        yield
    finally:
        Worker.start = start  # type: ignore[method-assign]
        pool.LOAD_RETRY_PAUSES = _pauses
