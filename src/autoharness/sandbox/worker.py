"""The parent's handle on one sandboxed worker process: spawn, talk (framed JSON over sockets), kill.

Nothing the worker sends is trusted: frames are size-capped and their nesting bounded before they are
decoded, any decoding failure is a protocol violation (never an exception of ours), every read and write has
a deadline, and a worker that times out, dies or garbles the protocol is killed as a whole process group
(and, under bwrap, its whole pid namespace) and spawned again on next use.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..errors import SandboxError
from .isolation import Isolation, SandboxLimits, bwrap_args, clean_env, python_args, worker_config

_HEADER = struct.Struct(">I")
_log = logging.getLogger(__name__)
MAX_CONTAINERS = 64
"""Most ``[``/``{`` a frame may hold outside strings: ours hold a handful (a reply, a failure, one list)."""
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_OPENERS = bytes(b for b in range(256) if b not in b"[{")
_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _spawner_thread() -> ThreadPoolExecutor:
    """The one long-lived thread every worker is started from (created per process, on first use).

    bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that started it exits, so a worker
    started by a short-lived thread (a rollout thread of the learner) would die with that thread.
    """
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(1, thread_name_prefix="autoharness-sandbox-spawner")
        return _spawner


def _forget_spawner() -> None:
    global _spawner, _spawner_lock
    _spawner = None  # a forked child has no threads: it starts its own spawner when it needs one
    _spawner_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_spawner)
_STARTUP_TIMEOUT = 30.0
_EXIT_TIMEOUT = 5.0
DEATH_LINES = 3
"""Last lines of a dead sandbox process's stderr quoted in its message (a traceback ends with the error)."""
DEATH_CHARS = 600


class WorkerLost(Exception):
    """A worker or harness process stopped answering properly (timed out, died, or broke the protocol)."""

    def __init__(
        self, message: str, *, timeout: bool = False, oversized: bool = False, ended: bool = False
    ) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.oversized = oversized
        self.ended = ended  # the other end closed: for a session, the harness process died


class LoadRefused(Exception):
    """The zygote could not start a harness process (its own socket, tmp directory or fork failed): the
    sandbox's failure, not the harness's. The message is one line naming the cause. ``retire``: the zygote
    cannot promise the next harness a clean sandbox, so this worker must be replaced."""

    def __init__(self, message: str, *, retire: bool) -> None:
        super().__init__(message)
        self.retire = retire


SPIN_SECONDS = 100e-6
"""How long a reader re-tries before sleeping in poll (see ``Channel._fill``)."""


class Channel:
    """Length-prefixed JSON frames over one socket, every read and write under a deadline."""

    def __init__(self, sock: socket.socket, max_frame: int) -> None:
        self.sock = sock
        self._fd = sock.fileno()
        self._max_frame = max_frame
        self._buf = bytearray()
        sock.setblocking(False)
        self._readable, self._writable = select.poll(), select.poll()
        self._readable.register(self._fd, select.POLLIN)
        self._writable.register(self._fd, select.POLLOUT)

    def wait_readable(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self._readable.poll(remaining * 1000):
            raise WorkerLost("no answer in time", timeout=True)

    def send(self, msg: dict[str, object], timeout: float) -> None:
        data = json.dumps(msg).encode()
        view = memoryview(_HEADER.pack(len(data)) + data)
        deadline = time.monotonic() + timeout
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                if not self._writable.poll(max(0.0, deadline - time.monotonic()) * 1000):
                    raise WorkerLost("stopped reading", timeout=True) from None
            except OSError as exc:  # EPIPE / ECONNRESET: the other end is gone
                raise WorkerLost(f"process gone ({exc.strerror})", ended=True) from exc

    def _fill(self, need: int, deadline: float) -> None:
        spin_until = time.monotonic() + SPIN_SECONDS
        while len(self._buf) < need:
            try:
                chunk = os.read(self._fd, 1 << 20)
            except BlockingIOError:
                # A short harness call answers within microseconds: re-trying the read for a bounded moment
                # avoids a sleep + wake-up of this process (tens of µs on a VM) per call; a longer call
                # falls through to poll and costs no CPU while it runs.
                if time.monotonic() >= spin_until:
                    self.wait_readable(deadline)
                continue
            except OSError as exc:
                raise WorkerLost(f"process gone ({exc.strerror})", ended=True) from exc
            if not chunk:
                raise WorkerLost("process ended", ended=True)
            self._buf += chunk

    def recv(self, timeout: float) -> dict[str, object]:
        """The next frame, as a dict; anything malformed or oversized is a protocol violation."""
        deadline = time.monotonic() + timeout
        self._fill(4, deadline)
        (size,) = _HEADER.unpack_from(self._buf)
        if size > self._max_frame:
            raise WorkerLost(f"reply of {size} bytes over the {self._max_frame} limit", oversized=True)
        self._fill(4 + size, deadline)
        payload = bytes(self._buf[4 : 4 + size])
        del self._buf[: 4 + size]
        return decode_frame(payload)

    def recv_socket(self, timeout: float) -> socket.socket:
        """A socket passed over this (Unix) socket with SCM_RIGHTS (marker byte ``S``), or the zygote's
        refusal (marker ``F`` and then a frame naming the cause): ``LoadRefused``."""
        deadline = time.monotonic() + timeout
        self.wait_readable(deadline)
        try:
            marker, fds, flags, _ = socket.recv_fds(self.sock, 1, 1)
        except OSError as exc:
            raise WorkerLost(f"process gone ({exc.strerror})", ended=True) from exc
        if marker == b"F" and not fds:
            refusal = self.recv(max(0.0, deadline - time.monotonic()))
            cause, retire = refusal.get("refused"), refusal.get("retire")
            if not isinstance(cause, str) or type(retire) is not bool:
                raise WorkerLost("protocol violation: malformed refusal")
            raise LoadRefused(cause[:2000], retire=retire)
        for fd in fds[1:]:
            os.close(fd)
        if marker != b"S" or len(fds) != 1:
            if flags & socket.MSG_CTRUNC:  # it was sent, but this process had no descriptor left for it
                raise WorkerLost(
                    "the session socket did not arrive (this process is out of file descriptors)"
                )
            raise WorkerLost("expected a session socket", ended=not marker)
        return socket.socket(fileno=fds[0])

    def close(self) -> None:
        self.sock.close()


def decode_frame(payload: bytes) -> dict[str, object]:
    """A frame's JSON object; anything else (bad JSON, deep nesting, not an object) raises ``WorkerLost``.

    Nesting is bounded before decoding (a frame of 100,000 ``[`` would exhaust the decoder's recursion), and
    every error the decoder can raise is caught: a frame is harness output, not our bug.
    """
    if payload.count(b"[") + payload.count(b"{") > MAX_CONTAINERS:  # rare: look past strings
        structure = _JSON_STRING.sub(b"", payload).translate(None, _NOT_OPENERS)
        if len(structure) > MAX_CONTAINERS:
            raise WorkerLost(f"malformed frame: over {MAX_CONTAINERS} nested lists or objects")
    try:
        msg = json.loads(payload)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise WorkerLost(f"malformed frame ({type(exc).__name__})") from exc
    if not isinstance(msg, dict):
        raise WorkerLost("malformed frame: not an object")
    return msg


class Worker:
    """One zygote process in its sandbox. Not thread-safe: a pool hands it to one session at a time.

    ``start`` asks the zygote for a fresh harness process (ending the previous one) and returns the channel to
    it. ``park`` keeps a finished session's process frozen for the next session of the same source, and
    ``take_warm`` thaws it; ``exit_status`` asks the zygote how the current harness process ended.
    """

    def __init__(self, limits: SandboxLimits, isolation: Isolation) -> None:
        self.limits = limits
        self.isolation = isolation
        self._proc: subprocess.Popen[bytes] | None = None
        self._ctl: Channel | None = None
        self.warm: tuple[str, str, Channel] | None = None  # a finished session's process, frozen for reuse
        self._owed = 0  # replies the zygote owes for requests not waited for (park, resume)
        self.max_frame = 2 * max(limits.max_return, limits.max_output) + 65536
        self.spawns = 0
        self.child_pid: int | None = None  # the harness process, reported by itself (used without bwrap)
        self.retired: list[str] = []  # why earlier sandboxes of this worker were replaced

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ensure(self) -> None:
        """Spawn the process if it is not running (first use, or after a kill)."""
        if self.alive:
            return
        self.replace()  # it ended by itself (a kill of ours clears ``_proc``), between sessions
        bwrap = self.isolation.bwrap
        prefix = bwrap_args(bwrap, self.limits, self.isolation.root) if bwrap else []
        ours, theirs = socket.socketpair()
        try:
            self._proc = (
                _spawner_thread()
                .submit(
                    subprocess.Popen,
                    [*prefix, *python_args(bool(bwrap))],
                    stdin=theirs,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    env=clean_env(),
                    cwd="/",
                    close_fds=True,
                    start_new_session=True,
                )
                .result()
            )
        except OSError as exc:
            ours.close()
            raise SandboxError(f"cannot start a sandbox worker: {exc}") from exc
        finally:
            theirs.close()
        self._ctl = Channel(ours, 65536)
        self._owed = 0
        self.spawns += 1
        try:
            self._ctl.send(worker_config(self.limits, self.isolation), _STARTUP_TIMEOUT)
            ready = self._ctl.recv(_STARTUP_TIMEOUT)
        except WorkerLost as exc:
            err = self._stderr()
            self.kill()
            raise SandboxError(f"sandbox worker failed to start: {err or exc}") from exc
        if "ready" not in ready:
            self.kill()
            raise SandboxError(f"sandbox worker sent {ready!r} instead of ready")

    def _stderr(self) -> str:
        """What the ended sandbox process wrote to stderr (bwrap's complaints, the zygote's own traceback),
        read without blocking: "" while it runs."""
        assert self._proc and self._proc.stderr
        if self._proc.poll() is None:
            return ""
        fd = self._proc.stderr.fileno()
        os.set_blocking(fd, False)
        try:
            return os.read(fd, 1 << 16).decode(errors="replace").strip()
        except (BlockingIOError, OSError):
            return ""

    def death(self, wait: float = 1.0) -> str:
        """How the sandbox process ended, in one line: its exit status or signal and the last lines it wrote
        to stderr; "still running" if it has not ended after ``wait`` s (it is not killed here)."""
        proc = self._proc
        if proc is None:
            return "the sandbox process was already stopped"
        try:
            code = proc.wait(wait)
        except subprocess.TimeoutExpired:
            return "the sandbox process is still running"
        # bwrap ends with 128 + N when the process it runs (the zygote) was killed by signal N
        sig = -code if code < 0 else code - 128 if self.isolation.bwrap and code > 128 else None
        if sig in signal.Signals._value2member_map_:
            how = f"was killed by {signal.Signals(sig).name}"  # type: ignore[arg-type]
        else:
            how = f"exited with status {code}"
        lines = [line.strip() for line in self._stderr().splitlines() if line.strip()]
        said = (
            f": {' | '.join(lines[-DEATH_LINES:])[-DEATH_CHARS:]}"
            if lines
            else " (it wrote nothing to stderr)"
        )
        return f"the sandbox process {how}{said}"

    def replace(self) -> None:
        """Kill a sandbox process that ended or stopped answering while no harness needed it, saying how
        (logged): the next use starts a fresh one."""
        if self._proc is not None:
            _log.warning("sandbox worker replaced: %s", self.death())
        self.kill()

    def killed_by_signal(self) -> bool:
        """Whether the ended sandbox process was killed by a signal (rather than exiting by itself)."""
        code = self._proc.returncode if self._proc is not None else None
        return code is not None and (code < 0 or (bool(self.isolation.bwrap) and code > 128))

    def _tell(self, msg: dict[str, object]) -> None:
        """A request whose reply is not waited for (read before the next exchange): no round trip."""
        assert self._ctl is not None
        self._ctl.send(msg, _EXIT_TIMEOUT)
        self._owed += 1

    def _drain(self) -> None:
        """Read the replies still owed, in order (the zygote answers every request)."""
        assert self._ctl is not None
        while self._owed:
            self._ctl.recv(_EXIT_TIMEOUT)
            self._owed -= 1

    def _ask(self, msg: dict[str, object], key: str, timeout: float = _EXIT_TIMEOUT) -> object:
        """One request to the zygote and the ``key`` of its reply."""
        assert self._ctl is not None
        self._drain()
        self._ctl.send(msg, timeout)
        reply = self._ctl.recv(timeout)
        if key not in reply:
            raise WorkerLost("protocol violation on the control channel")
        return reply[key]

    def park(self, source: str, mode: str, channel: Channel) -> None:
        """Keep this finished session's process: the zygote freezes it if it is alone with one thread, and
        ends it otherwise (a later reload then finds the channel closed and starts afresh)."""
        if not self.isolation.bwrap:  # no pid namespace to prove it alone: never kept (it exits on EOF)
            channel.close()
            return
        try:
            if not self.alive:
                raise WorkerLost("worker gone")
            self._drain()  # at most one reply owed: unread replies would fill the socket and stall the zygote
            self._tell({"op": "park"})
        except WorkerLost:
            self.replace()
            channel.close()
            return
        self.warm = (source, mode, channel)

    def take_warm(self, source: str, mode: str) -> Channel | None:
        """The kept process of the last session, thawed, if it ran this very source and mode; else None
        (a kept process of another source is ended by the zygote when the next one starts)."""
        warm, self.warm = self.warm, None
        if warm is None:
            return None
        if warm[:2] != (source, mode) or not self.alive:
            warm[2].close()
            return None
        try:
            self._drain()  # the park's reply, long since sent: no wait, and the backlog never grows
            self._tell({"op": "resume"})  # the reload that follows on the channel waits for the thaw
        except WorkerLost:
            self.replace()
            warm[2].close()
            return None
        return warm[2]

    def start(self, source: str, mode: str, timeout: float) -> Channel:
        """A fresh harness process loading ``source``; its load report is the channel's first frame.

        ``LoadRefused`` when the zygote could not start one. A zygote that could not sweep up after the last
        harness is replaced (``retired`` says why) and the load asked of a fresh one, once.
        """
        for fresh in (False, True):
            self.ensure()
            assert self._ctl is not None
            if self.warm is not None:
                self.warm[2].close()
                self.warm = None
            self.child_pid = None
            self._drain()  # the session socket must be the next thing on the control channel
            self._ctl.send({"op": "load", "id": self.spawns, "source": source, "mode": mode}, timeout)
            try:
                return Channel(self._ctl.recv_socket(timeout), self.max_frame)
            except LoadRefused as exc:
                if exc.retire:  # it could not sweep up after the last harness: never reused
                    self.kill()
                    self.retired.append(str(exc))
                    _log.warning("sandbox worker replaced: %s", exc)
                if not exc.retire or fresh:
                    raise  # a zygote that is not retired keeps serving: the cause (e.g. a full /tmp) may pass
        raise AssertionError("unreachable")

    def exit_status(self, wait: float = 2.0) -> str:
        """The zygote's account of how the current harness process ended (after ``wait`` s it is ended)."""
        status = self._ask({"op": "end", "wait": wait}, "status", wait + _EXIT_TIMEOUT)
        self.child_pid = None
        if not isinstance(status, str):
            raise WorkerLost("protocol violation on the control channel")
        return status

    def kill(self) -> None:
        """SIGKILL the whole process group (bwrap's pid namespace goes with it) and reap."""
        proc, self._proc = self._proc, None
        if self.warm is not None:
            self.warm[2].close()
            self.warm = None
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        if proc is None:
            return
        groups = [proc.pid]
        if not self.isolation.bwrap and self.child_pid:  # no pid namespace: its own group, killed too
            groups.append(self.child_pid)
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


__all__ = ["Channel", "LoadRefused", "Worker", "WorkerLost", "decode_frame"]
