"""Where a suite's games run: a local process pool (stdlib, the default) or a Ray cluster.

Both engines run one picklable function per task and hand back an :class:`Outcome` per task, in completion
order. A task never raises into the caller: whatever stops it — an exception, its deadline, or the death
of the process running it — comes back as a :class:`TaskError`, so one game's failure is recorded and the
others go on.

* :class:`LocalExecutor` — ``concurrent.futures.ProcessPoolExecutor`` on the ``forkserver`` start method:
  the server process imports the ``preload`` modules once and every worker is forked from it, so a
  worker starts in milliseconds instead of re-importing TextArena, nltk and the OpenAI SDK (seconds each),
  and no worker inherits the parent's threads. A worker that dies (OOM kill, segfault, ``os._exit``)
  breaks the whole stdlib pool and every task in flight with it; the executor then reruns those tasks one
  at a time in a fresh pool, so the culprit is named and the bystanders finish normally. Workers end
  themselves when the process owning the pool dies, so a ``kill -9`` leaves nothing running.
* :class:`RayExecutor` — one Ray task per game (``max_retries=0``); joins the cluster at ``address`` or
  starts a local single-node one. Needs the ``ray`` extra (``pip install 'autoharness[ray]'``).

Deadlines are enforced inside the worker with ``SIGALRM`` (the task runs in the worker's main thread in
both engines), which raises :class:`TaskTimeout` in the task wherever it is: its ``finally`` blocks run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .errors import ConfigError


class TaskErrorKind(StrEnum):
    EXCEPTION = "exception"  # the task raised
    TIMEOUT = "timeout"  # the task hit its deadline
    WORKER_DIED = "worker_died"  # the process running the task died


@dataclass(frozen=True, slots=True)
class TaskError:
    """Why a task returned no value: data, never an exception crossing the process boundary."""

    kind: TaskErrorKind
    type: str
    message: str
    traceback: str | None = None

    def describe(self) -> str:
        return f"{self.kind}: {self.type}: {self.message}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One finished task: ``value`` when it returned, else ``error``."""

    key: str
    value: Any = None
    error: TaskError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class TaskTimeout(BaseException):
    """Raised inside a task when its deadline passes.

    A ``BaseException`` (like ``KeyboardInterrupt``): the task's ``finally`` blocks and context managers
    still clean up, but no ``except Exception`` on the way can swallow the deadline or re-label it.
    """


class Executor(Protocol):
    """Runs tasks concurrently. ``submit`` queues; ``next_outcome`` blocks for the next finished task."""

    workers: int

    def submit(self, key: str, fn: Callable[[Any], Any], arg: Any, timeout: float | None = None) -> None: ...

    def next_outcome(self) -> Outcome: ...

    def pending(self) -> int:
        """Tasks submitted and not yet returned by ``next_outcome`` (queued or running)."""
        ...

    def close(self) -> None: ...


def guarded_call(fn: Callable[[Any], Any], arg: Any, timeout: float | None) -> tuple[Any, TaskError | None]:
    """Run ``fn(arg)`` in this process under a deadline; exceptions come back as data.

    Module-level so both engines can ship it to a worker by reference.
    """
    use_alarm = timeout is not None and threading.current_thread() is threading.main_thread()
    previous: Any = None
    if use_alarm:

        def _expire(signum: int, frame: object) -> None:
            raise TaskTimeout(f"deadline of {timeout:g} s passed")

        previous = signal.signal(signal.SIGALRM, _expire)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return fn(arg), None
    except TaskTimeout as exc:
        return None, TaskError(TaskErrorKind.TIMEOUT, "TaskTimeout", str(exc), traceback.format_exc())
    except Exception as exc:
        return None, TaskError(TaskErrorKind.EXCEPTION, type(exc).__name__, str(exc), traceback.format_exc())
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _start_worker(owner: int, environ: dict[str, str], poll_seconds: float = 1.0) -> None:
    """Pool-worker initializer: take the owner's environment, and end when the owner dies (``kill -9``).

    The fork server is started once per process and keeps the environment it started with: without
    ``environ`` a worker would not see a variable the owner set since (``$AUTOHARNESS_BUILTIN_DIR``,
    ``$OPENAI_API_KEY``: which harnesses and which model a suite game uses).
    An orphaned worker would keep learning its game and write into the run directory that a
    ``--resume`` is about to continue. The owner is watched by pid, not as our parent: a forkserver
    worker's parent is the fork server, which itself stays up while any worker lives.
    """
    os.environ.clear()
    os.environ.update(environ)

    def watch() -> None:
        while _alive(owner):
            time.sleep(poll_seconds)
        os._exit(70)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as dead: it is gone, just not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no procfs: fall back to a signal-0 probe
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """SIGTERM and SIGINT arriving in the block take effect (through their own handlers) right after it.

    Launching a forkserver worker sends the fork server the worker's start-up state, then waits for its pid
    (seconds, the first time: the server is still importing ``preload``). Interrupted in that wait, the
    worker was forked all the same but known to nobody: never stopped, it later failed to unpickle the
    pool's semaphores (gone with their owner) and printed a traceback after "interrupted". A second signal
    during the block acts at once, as it would without the deferral.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous = {sig: handler for sig, handler in previous.items() if handler is not None}
    caught: list[int] = []

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def defer(signum: int, frame: object) -> None:
        if caught:
            restore()
            signal.raise_signal(caught[0])
        caught.append(signum)

    for sig in previous:
        signal.signal(sig, defer)
    try:
        yield
    finally:
        restore()
        if caught:
            signal.raise_signal(caught[0])


@dataclass(slots=True)
class _Task:
    key: str
    fn: Callable[[Any], Any]
    arg: Any
    timeout: float | None


class LocalExecutor:
    """A stdlib process pool of ``workers`` spawned processes, robust to a worker dying."""

    def __init__(self, workers: int, preload: Sequence[str] = ()) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self._ctx = multiprocessing.get_context("forkserver")
        if preload:
            self._ctx.set_forkserver_preload(list(preload))
        self._pool: ProcessPoolExecutor | None = None
        self._queue: deque[_Task] = deque()
        self._suspects: deque[_Task] = deque()  # in flight when the pool broke: rerun one at a time
        self._running: dict[Future[tuple[Any, TaskError | None]], _Task] = {}
        self._ready: deque[Outcome] = deque()

    def submit(self, key: str, fn: Callable[[Any], Any], arg: Any, timeout: float | None = None) -> None:
        self._queue.append(_Task(key, fn, arg, timeout))
        self._dispatch()

    def pending(self) -> int:
        return len(self._queue) + len(self._suspects) + len(self._running) + len(self._ready)

    def next_outcome(self) -> Outcome:
        while not self._ready:
            if not self._running:
                raise RuntimeError("next_outcome() with nothing submitted")
            done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
            self._collect(done)
            self._dispatch()
        return self._ready.popleft()

    def close(self) -> None:
        """Drop queued tasks and stop running ones by terminating their worker processes (what Ray's
        force-cancel does): closing before the end is an interruption (Ctrl-C, SIGTERM), and a task's work
        is kept by the task itself (a suite game's run directory resumes). A normal end has none running."""
        if self._pool is not None:
            if self._running:
                for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _dispatch(self) -> None:
        """Fill free slots: suspects run strictly alone, everything else up to ``workers`` at a time."""
        if self._suspects:
            if not self._running:
                self._start(self._suspects.popleft())
            return
        while self._queue and len(self._running) < self.workers:
            self._start(self._queue.popleft())

    def _start(self, task: _Task) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=self._ctx,
                initializer=_start_worker,
                initargs=(os.getpid(), dict(os.environ)),
            )
        with _interrupts_deferred():  # a worker launched is a worker registered (and so stopped by close)
            future = self._pool.submit(guarded_call, task.fn, task.arg, task.timeout)
            self._running[future] = task

    def _collect(self, done: Iterable[Future[tuple[Any, TaskError | None]]]) -> None:
        lost: list[_Task] = []
        for future in done:
            task = self._running.pop(future)
            try:
                value, error = future.result()
            except BrokenProcessPool:
                lost.append(task)
                continue
            self._ready.append(Outcome(task.key, value, error))
        if not lost:
            return
        # Every other task in flight is lost with the pool; none of them is known to be guilty yet.
        lost.extend(self._running.values())
        self._running.clear()
        assert self._pool is not None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        if len(lost) > 1:
            self._suspects.extendleft(reversed(lost))
            return
        died = TaskError(
            TaskErrorKind.WORKER_DIED,
            "BrokenProcessPool",
            "the worker process running this task died (killed, out of memory or crashed)",
        )
        self._ready.append(Outcome(lost[0].key, error=died))


class RayExecutor:
    """One Ray task per submitted task, on an existing cluster (``address``) or a local single-node one."""

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        # Under `uv run`, Ray would start every worker through `uv run` in a copy of the working directory:
        # with uv run as `python -m uv` (our set-up) no worker starts at all (tasks hang), and elsewhere each
        # node rebuilds the environment. Nodes run the Python they were started with instead. Ray reads
        # this once, when it is first imported.
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                "--executor ray needs Ray: install the extra with pip install 'autoharness[ray]'"
            ) from exc
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self._ray = ray
        self._owns_runtime = not ray.is_initialized()
        if self._owns_runtime:
            try:
                if address:
                    _check_reachable(address)
                    ray.init(address=address, log_to_driver=False)
                else:
                    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"cannot join the Ray cluster at {address!r}: {exc}") from exc
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or max(1, cluster_cpus)
        self._remote = ray.remote(num_cpus=1, max_retries=0)(guarded_call)
        self._running: dict[Any, str] = {}

    def submit(self, key: str, fn: Callable[[Any], Any], arg: Any, timeout: float | None = None) -> None:
        self._running[self._remote.remote(fn, arg, timeout)] = key

    def pending(self) -> int:
        return len(self._running)

    def next_outcome(self) -> Outcome:
        if not self._running:
            raise RuntimeError("next_outcome() with nothing submitted")
        (ref,), _ = self._ray.wait(list(self._running), num_returns=1)
        key = self._running.pop(ref)
        try:
            value, error = self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return Outcome(key, error=TaskError(TaskErrorKind.WORKER_DIED, type(exc).__name__, first_line))
        return Outcome(key, value, error)

    def close(self) -> None:
        for ref in self._running:
            self._ray.cancel(ref, force=True)
        self._running.clear()
        if self._owns_runtime:
            self._ray.shutdown()


def _check_reachable(address: str, seconds: float = 5.0) -> None:
    """Fail fast on a ``host:port`` nobody listens on (Ray itself retries for minutes before it gives up).

    Other address forms (``auto``, ``ray://...``) are left to Ray.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}") from exc


def make_executor(
    kind: str, workers: int | None = None, address: str | None = None, preload: Sequence[str] = ()
) -> Executor:
    """``local`` (default; ``workers`` defaults to the CPU count) or ``ray`` (no ``address`` → local node).

    ``preload``: modules the local workers should start with already imported.
    """
    if kind == "local":
        if address:
            raise ConfigError("--address only applies to --executor ray")
        return LocalExecutor(workers or os.cpu_count() or 1, preload)
    if kind == "ray":
        return RayExecutor(workers, address)
    raise ConfigError(f"unknown executor {kind!r}; choose local or ray")


def map_unordered(
    executor: Executor,
    fn: Callable[[Any], Any],
    items: Iterable[tuple[str, Any]],
    timeout: float | None = None,
) -> Iterator[Outcome]:
    """Run ``fn`` over ``(key, arg)`` items, ≤ ``executor.workers`` in flight, yielding as they finish."""
    todo = deque(items)
    while todo or executor.pending():
        while todo and executor.pending() < executor.workers:
            key, arg = todo.popleft()
            executor.submit(key, fn, arg, timeout)
        yield executor.next_outcome()


__all__ = [
    "Executor",
    "LocalExecutor",
    "Outcome",
    "RayExecutor",
    "TaskError",
    "TaskErrorKind",
    "TaskTimeout",
    "guarded_call",
    "make_executor",
    "map_unordered",
]
