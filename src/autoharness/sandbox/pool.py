"""Sessions (one harness source loaded in one worker) and the thread-safe pool that hands workers out.

Every call returns a value or a ``HarnessFailure``; nothing the harness does raises here. After a fatal
failure (timeout, the harness process died) the next call transparently reloads the source in a fresh
process — module-level state of the harness starts over, as it would in a new rollout.

The sandbox's own failures are never the harness's: a zygote that refuses a load (out of file descriptors or
processes), dies or stops answering before the harness process started is asked again (after a pause; a
dead one respawned, ``LOAD_RETRY_PAUSES``), then ``SandboxError`` is raised, from opening the session or
from the call that needed a fresh process. A zygote that dies while harness code runs is the harness's
failure only where the harness could have killed it (same uid, no ``drop_uid``); else ``SandboxError``.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import logging
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from types import TracebackType

from ..errors import ConfigError, SandboxError
from .contract import MAX_ACTION_CHARS, MAX_LISTED_ACTIONS, MAX_SOURCE_CHARS, MODES, REQUIRED_FUNCTIONS, Mode
from .failures import FailureKind, HarnessFailure
from .isolation import Isolation, SandboxLimits, detect, rlimits
from .worker import Channel, LoadRefused, Worker, WorkerLost


@dataclass(frozen=True, slots=True)
class Proposal:
    """Verifier mode's one round trip: the proposed action and what ``is_legal_action`` said of it.

    ``failure`` is set when either call failed; ``action`` is still set if ``propose_action`` succeeded.
    """

    action: str | None
    checker_said: bool | None
    failure: HarnessFailure | None = None


def _failure_from(data: object, function: str | None) -> HarnessFailure:
    """A failure report from the worker, checked field by field (the worker is not trusted)."""
    if isinstance(data, dict):
        kind, message = data.get("kind"), data.get("message")
        fn, line, tb = data.get("function"), data.get("line"), data.get("traceback")
        if (
            kind in FailureKind._value2member_map_
            and isinstance(message, str)
            and (fn is None or isinstance(fn, str))
            and (line is None or type(line) is int)
            and (tb is None or isinstance(tb, str))
        ):
            return HarnessFailure(FailureKind(kind), message, fn, line, tb)
    return HarnessFailure(FailureKind.KILLED, "worker sent a malformed failure report", function)


def _checked(function: str, value: object) -> object | HarnessFailure:
    """The parent's own check of a returned value: plain types, and actions within the contract's caps
    (checked here, before any game or learner code sees an action)."""
    if function == "is_legal_action":
        ok = type(value) is bool
    elif function == "legal_actions":
        ok = type(value) is list and all(type(v) is str for v in value)
        if ok and len(value) > MAX_LISTED_ACTIONS:  # type: ignore[arg-type]
            msg = f"returned {len(value)} actions (limit {MAX_LISTED_ACTIONS})"  # type: ignore[arg-type]
            return HarnessFailure(FailureKind.OVERSIZED, msg, function)
        if ok and any(len(v) > MAX_ACTION_CHARS for v in value):  # type: ignore[attr-defined]
            msg = f"listed an action over {MAX_ACTION_CHARS} characters"
            return HarnessFailure(FailureKind.OVERSIZED, msg, function)
    else:
        ok = type(value) is str
        if ok and len(value) > MAX_ACTION_CHARS:  # type: ignore[arg-type]
            msg = f"returned an action of {len(value)} characters (limit {MAX_ACTION_CHARS})"  # type: ignore[arg-type]
            return HarnessFailure(FailureKind.OVERSIZED, msg, function)
    if ok:
        return value
    return HarnessFailure(FailureKind.BAD_RETURN, f"returned {type(value).__name__}", function)


_log = logging.getLogger(__name__)

LOAD_RETRY_PAUSES = (0.1, 0.5, 2.0)
"""Seconds waited before each new attempt at a harness process the sandbox failed to start (a limit that
may pass, a zygote to respawn); after the last, ``SandboxError``."""

BATCH_TIMEOUT_CALLS = 2
"""A batch may run this many times one call's wall-clock limit."""

VERIFY_FUNCTIONS = "propose_action/is_legal_action"
"""``HarnessFailure.function`` of a failure during ``verify`` that no single function can be blamed for."""


class HarnessSession:
    """One harness source loaded in one fresh sandboxed process. Use via ``WorkerPool.session``."""

    def __init__(self, pool: WorkerPool, worker: Worker, source: str, mode: Mode) -> None:
        self._pool, self._worker, self.source, self.mode = pool, worker, source, mode
        self._ids = itertools.count(1)
        self._channel: Channel | None = None
        self.on_call: Callable[[str, float], None] | None = None  # (function, seconds) of each call: progress
        self.load_failure: HarnessFailure | None = None
        self.load_failure = self._load()

    def _lost(self, exc: WorkerLost, function: str | None) -> HarnessFailure:
        """Turn a broken exchange into a failure; the harness process is gone either way."""
        limits = self._pool.limits
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        if exc.ended:  # the harness process died; the zygote survives and says how
            try:
                return HarnessFailure(FailureKind.KILLED, self._worker.exit_status(), function)
            except WorkerLost:
                return self._zygote_lost(function)
        self._worker.kill()  # respawned on next use
        if exc.timeout:
            limit = limits.load_timeout if function is None else limits.call_timeout
            what = function or "loading the harness"
            return HarnessFailure(FailureKind.TIMEOUT, f"{what} ran over the {limit:g} s limit", function)
        kind = FailureKind.OVERSIZED if exc.oversized else FailureKind.KILLED
        return HarnessFailure(kind, f"sandbox worker lost: {exc}", function)

    def _zygote_lost(self, function: str | None) -> HarnessFailure:
        """The harness process ended and the zygote with it (or it stopped answering): say how. A harness
        process under its own uid cannot signal the zygote, nor can any harness make it exit: then the
        sandbox failed (``SandboxError``); one that shares its uid may have killed it (a harness failure)."""
        death = self._worker.death()
        by_signal = self._worker.killed_by_signal()
        self._worker.kill()  # respawned on next use
        what = function or "loading the harness"
        if by_signal and not self._pool.isolation.own_uid:
            message = f"sandbox worker lost during {what}: {death} (harness code may signal it here)"
            return HarnessFailure(FailureKind.KILLED, message, function)
        raise SandboxError(f"sandbox worker lost during {what}, not by the harness's doing: {death}")

    def _start(self, timeout: float) -> Channel:
        """A fresh harness process. Before it exists no harness code runs, so every failure here is the
        sandbox's: a refused load is asked again after a pause, a zygote that died or stopped answering is
        replaced, and after ``LOAD_RETRY_PAUSES`` it is ``SandboxError``."""
        for pause in (*LOAD_RETRY_PAUSES, None):
            try:
                return self._worker.start(self.source, self.mode, timeout)
            except LoadRefused as exc:
                problem = str(exc)
            except WorkerLost as exc:
                how = self._worker.death(1.0 if exc.ended else 0.0)  # e.g. our own descriptors ran out
                problem = f"sandbox worker lost before the harness process started ({exc}): {how}"
                self._worker.kill()
            if pause is None:
                raise SandboxError(f"{problem} (tried {len(LOAD_RETRY_PAUSES) + 1} times)")
            _log.warning("%s; trying again in %g s", problem, pause)
            time.sleep(pause)
        raise AssertionError("unreachable")

    def _reload(self, channel: Channel) -> HarnessFailure | None:
        """Run the source again in a fresh namespace of the kept process (same harness, same mode)."""
        self._channel = channel
        rid = next(self._ids)
        timeout = self._pool.limits.load_timeout
        try:
            channel.send({"op": "reload", "id": rid}, timeout)
            reply = channel.recv(timeout)
        except WorkerLost as exc:
            if not exc.ended:
                return self._lost(exc, None)
            channel.close()  # the kept process died while idle: not this session's doing, start afresh
            self._channel = None
            try:
                self._worker.exit_status()
            except WorkerLost:  # and the zygote with it
                self._worker.replace()
            return self._load(reuse=False)
        if reply.get("id") != rid:
            return self._lost(WorkerLost("protocol violation on reload"), None)
        failure = reply.get("failure")
        return None if failure is None else _failure_from(failure, None)

    def _load(self, reuse: bool = True) -> HarnessFailure | None:
        if len(self.source) > MAX_SOURCE_CHARS:
            return HarnessFailure(FailureKind.OVERSIZED, f"source over {MAX_SOURCE_CHARS} characters")
        warm = self._worker.take_warm(self.source, self.mode) if reuse else None
        if warm is not None:
            return self._reload(warm)
        timeout = self._pool.limits.load_timeout
        self._channel = self._start(timeout)
        try:
            reply = self._channel.recv(timeout)
        except WorkerLost as exc:
            return self._lost(exc, None)
        if reply.get("id") != 0:
            return self._lost(WorkerLost("protocol violation on load"), None)
        pid = reply.get("pid")
        self._worker.child_pid = pid if type(pid) is int else None
        failure = reply.get("failure")
        return None if failure is None else _failure_from(failure, None)

    def _request(
        self, op: str, function: str, args: list[str], extra: dict[str, object] | None = None, calls: int = 1
    ) -> dict[str, object] | HarnessFailure:
        """One round trip (``calls`` harness calls in it); a failure if the harness could not be asked or did
        not answer."""
        if self.load_failure is not None:
            return self.load_failure
        if self._worker is None:
            raise SandboxError("this harness session is closed")
        if self._channel is None:  # after a fatal failure: a fresh process, transparently
            failure = self._load()
            if failure is not None:
                self.load_failure = failure
                return failure
        assert self._channel is not None
        rid = next(self._ids)
        timeout = self._pool.limits.call_timeout * (1 if calls == 1 else BATCH_TIMEOUT_CALLS)
        started = time.monotonic()
        try:
            self._channel.send({"op": op, "id": rid, "fn": function, "args": args, **(extra or {})}, timeout)
            reply = self._channel.recv(timeout)
        except WorkerLost as exc:
            return self._lost(exc, function)
        finally:
            if self.on_call is not None:
                self.on_call(function, time.monotonic() - started)
        if reply.get("id") != rid:
            return self._lost(WorkerLost("protocol violation: reply to another call"), function)
        return reply

    def _call(self, function: str, args: list[str]) -> object | HarnessFailure:
        reply = self._request("call", function, args)
        if isinstance(reply, HarnessFailure):
            return reply
        if reply.get("failure") is not None:
            return _failure_from(reply["failure"], function)
        return _checked(function, reply.get("value"))

    def propose_action(self, obs: str) -> str | HarnessFailure:
        return self._call("propose_action", [obs])  # type: ignore[return-value]

    def is_legal_action(self, obs: str, action: str) -> bool | HarnessFailure:
        return self._call("is_legal_action", [obs, action])  # type: ignore[return-value]

    def legal_actions(self, obs: str) -> list[str] | HarnessFailure:
        return self._call("legal_actions", [obs])  # type: ignore[return-value]

    def verify(self, obs: str) -> Proposal:
        """``propose_action(obs)`` then ``is_legal_action(obs, action)`` in a single round trip."""
        # A timeout or a dead process during this exchange could be either function's doing: name both, so
        # the critic does not blame (and keep) the wrong one.
        reply = self._request("verify", VERIFY_FUNCTIONS, [obs])
        if isinstance(reply, HarnessFailure):
            return Proposal(None, None, reply)
        if "action" not in reply:  # propose_action itself failed
            failure = reply.get("failure")
            return Proposal(None, None, _failure_from(failure, "propose_action"))
        action = _checked("propose_action", reply["action"])
        if isinstance(action, HarnessFailure):
            return Proposal(None, None, action)
        assert isinstance(action, str)
        if reply.get("failure") is not None:
            return Proposal(action, None, _failure_from(reply["failure"], "is_legal_action"))
        said = _checked("is_legal_action", reply.get("value"))
        if isinstance(said, HarnessFailure):
            return Proposal(action, None, said)
        return Proposal(action, bool(said))

    def batch(self, calls: Sequence[tuple[str, list[str]]]) -> list[object | HarnessFailure]:
        """Several calls (``(function, args)``) in one round trip, answered in order: ``autoharness.verify``
        asks every check of one position at once. Each result is a value or that call's ``HarnessFailure``.

        The whole batch gets ``BATCH_TIMEOUT_CALLS`` times one call's limit; a fatal failure (timeout, the
        process died) cannot be blamed on one call, so it is every result — the caller may retry the calls
        one by one to find the culprit.
        """
        for function, _ in calls:
            if function not in REQUIRED_FUNCTIONS[self.mode]:
                raise SandboxError(f"{function} is not a {self.mode}-mode harness function")
        if not calls:
            return []
        wire = [[function, list(args)] for function, args in calls]
        reply = self._request("batch", f"batch of {len(calls)} calls", [], {"calls": wire}, len(calls))
        if isinstance(reply, HarnessFailure):
            return [reply] * len(calls)
        results = reply.get("results")
        if type(results) is not list or len(results) != len(calls):
            if reply.get("failure") is not None:  # the harness failed to load in its fresh process
                return [_failure_from(reply["failure"], None)] * len(calls)
            lost = self._lost(WorkerLost("protocol violation: malformed batch reply"), "batch")
            return [lost] * len(calls)
        out: list[object | HarnessFailure] = []
        for (function, _), item in zip(calls, results, strict=True):
            if not isinstance(item, dict) or item.get("failure") is not None:
                failure = item.get("failure") if isinstance(item, dict) else None
                out.append(_failure_from(failure, function))
            else:
                out.append(_checked(function, item.get("value")))
        return out

    def close(self) -> None:
        """Give the worker back, keeping the harness process (frozen: it runs nothing) for a next session
        of the same source. A different source later gets a freshly forked process (the zygote ends the kept
        one and sweeps up).
        """
        if self._worker is None:
            return
        worker, self._worker = self._worker, None  # type: ignore[assignment]
        channel, self._channel = self._channel, None
        if channel is not None:  # kept frozen if alone with one thread; else the zygote ends it
            worker.park(self.source, self.mode, channel)
        self._pool._checkin(worker)

    def __enter__(self) -> HarnessSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WorkerPool:
    """Up to ``size`` sandboxed workers, spawned on first use and reused across sessions and rollouts.

    Thread-safe. A thread that already holds every busy worker and asks for another session (an agent and its
    opponent in one match) gets an extra short-lived worker instead of waiting for itself forever.
    """

    def __init__(
        self, size: int = 1, *, limits: SandboxLimits | None = None, isolation: Isolation | None = None
    ) -> None:
        if size < 1:
            raise ConfigError(f"a worker pool needs at least 1 worker, got {size}")
        self.size = size
        self.limits = limits or SandboxLimits()
        self.isolation = isolation or detect()
        self._idle: list[Worker] = []
        self._owners: dict[int, int] = {}  # id(worker) → thread id, for checked-out workers
        self._all: list[Worker] = []
        self._cond = threading.Condition()
        self._closed = False
        self._finalizer = weakref.finalize(self, WorkerPool._kill_all, self._all)

    @staticmethod
    def _kill_all(workers: list[Worker]) -> None:
        for worker in workers:
            worker.kill()

    def _checkout(self) -> Worker:
        me = threading.get_ident()
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("this worker pool is closed")
                if self._idle:
                    worker = self._idle.pop()
                    break
                busy = list(self._owners.values())
                if len(self._all) < self.size or all(owner == me for owner in busy):
                    worker = Worker(self.limits, self.isolation)
                    self._all.append(worker)
                    break
                self._cond.wait()
            self._owners[id(worker)] = me
        return worker

    def _checkin(self, worker: Worker) -> None:
        with self._cond:
            self._owners.pop(id(worker), None)
            if self._closed or len(self._all) > self.size:  # pool closed, or an extra worker: retire it
                worker.kill()
                self._all.remove(worker)
            else:
                self._idle.append(worker)
            self._cond.notify()

    @contextmanager
    def session(self, source: str, mode: Mode) -> Iterator[HarnessSession]:
        """Load ``source`` for ``mode`` in a fresh harness process; ``load_failure`` says if that failed."""
        if mode not in MODES:
            raise ConfigError(f"unknown harness mode {mode!r}; choose one of {', '.join(MODES)}")
        worker = self._checkout()
        try:
            session = HarnessSession(self, worker, source, mode)
        except BaseException:
            self._checkin(worker)
            raise
        with session:
            yield session

    def close(self) -> None:
        """Kill every worker; sessions still open fail on their next call."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.kill()
        self._finalizer()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


IPC_PROBE = """
import ctypes, os
def propose_action(obs):
    libc = ctypes.CDLL(None, use_errno=True)
    ident = libc.shmget(0, 1 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    if ident >= 0:
        libc.shmctl(ident, 0, None)
        return "allowed"
    return "blocked: " + os.strerror(ctypes.get_errno())
def is_legal_action(obs, action):
    return True
"""


def sandbox_status() -> dict[str, object]:
    """Which protections are active here (``autoharness doctor`` prints this); SysV IPC is probed live."""
    iso = detect()
    limits = SandboxLimits()
    bw = bool(iso.bwrap)
    with WorkerPool(1, isolation=iso) as pool, pool.session(IPC_PROBE, "policy") as session:
        probe = session.propose_action("")
    ipc = probe if isinstance(probe, str) else f"probe failed: {probe.describe()}"
    return {
        "isolation": iso.kind,
        "bwrap": iso.bwrap,
        "bwrap_problem": iso.reason,
        "namespaces": ["net", "pid", "ipc", "uts", "cgroup", *([] if iso.root else ["user"])] if bw else [],
        "filesystem": "read-only /usr, /bin, /lib*, Python prefix; private tmpfs /tmp" if bw else "full",
        "private_tmp": "emptied after each harness process" if bw else "own dir in /tmp per harness process",
        "sysv_ipc": ipc + (" (seccomp)" if ipc.startswith("blocked") else ""),
        "environment_cleared": True,
        "capabilities_dropped": bw,
        "own_uid_per_harness": iso.own_uid,
        "dies_with_parent": bw,
        "rlimits": rlimits(limits, iso),
        "limits": asdict(limits),
        "python": sys.version.split()[0],
        "textarena": importlib.metadata.version("textarena"),
    }


__all__ = ["HarnessSession", "Proposal", "WorkerPool", "sandbox_status"]
