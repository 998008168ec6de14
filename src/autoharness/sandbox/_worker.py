"""The code that runs *inside* the sandbox (stdlib only; started as ``python -I -S -B -c <this file>``).

It is a zygote: it never runs harness code itself. For each harness source it forks a fresh child, which
drops to its own throw-away uid, sets its rlimits, loads the source into a pristine interpreter and serves
calls until told to end. A harness therefore cannot monkeypatch anything that a later harness will see, and
cannot signal or trace the zygote (different uid). When the child is gone (ended, crashed, killed by a limit)
the zygote sweeps every leftover process of the sandbox and reports how the child ended.

Channels: a control socket (parent ↔ zygote: load, and "exited" with the child's status) that the child
closes before any harness code runs, and one fresh socketpair per child, whose other end is passed to the
parent over the control socket (SCM_RIGHTS). A harness that corrupts its own process can therefore only
ever talk on its own session's socket, never impersonate the zygote to a later harness.
Frames: 4-byte big-endian length + UTF-8 JSON object. The parent validates every reply again.
"""

import contextlib
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
import traceback

HARNESS_FILE = "<harness>"
_HEADER = struct.Struct(">I")
# private references, taken before any harness runs: patching builtins cannot change our own checks
_type, _len, _sum, _all, _str, _list, _bool = type, len, sum, all, str, list, bool
_dumps, _loads, _read, _write, _exit = json.dumps, json.loads, os.read, os.write, os._exit
_monotonic, _select = time.monotonic, select.select
_SPIN_SECONDS = 100e-6


_inboxes = {}


def _read_soon(fd):
    """Read what arrives on ``fd``, re-trying for a bounded moment before blocking: the next request of a
    rollout usually follows within microseconds, and a blocking read would put this process to sleep and
    pay a wake-up (tens of µs on a VM) per call."""
    until = _monotonic() + _SPIN_SECONDS
    while _monotonic() < until:
        if _poll_now(fd):
            break
    return _read(fd, 1 << 16)


def _poll_now(fd):
    return _select((fd,), (), (), 0)[0]


def _recv(fd):
    """The next frame from ``fd`` (one read per frame in the common case); EOF ends this process."""
    _inbox = _inboxes.setdefault(fd, bytearray())
    while True:
        if _len(_inbox) >= 4:
            (size,) = _HEADER.unpack_from(_inbox)
            if _len(_inbox) >= 4 + size:
                payload = bytes(_inbox[4 : 4 + size])
                del _inbox[: 4 + size]
                return _loads(payload)
        chunk = _read_soon(fd)
        if not chunk:
            _exit(0)  # the other side hung up: for a harness process, the session is over
        _inbox.extend(chunk)


def _send(fd, obj):
    data = _dumps(obj).encode()
    data = _HEADER.pack(_len(data)) + data
    while data:
        data = data[_write(fd, data) :]


class _Sink:
    """Stands in for stdout/stderr during harness code: counts and drops, remembers an overflow."""

    def __init__(self, limit):
        self.limit = limit
        self.size = 0

    def write(self, text):
        self.size += len(text) if isinstance(text, str) else 0
        return len(text) if isinstance(text, str) else 0

    def flush(self):
        pass


def _failure(kind, message, function=None, line=None, tb=None):
    return {"kind": kind, "message": message[:2000], "function": function, "line": line, "traceback": tb}


def _exception_failure(exc, function, max_frames=12):
    """An exception as a failure: only frames in the harness source, trimmed, with the harness line."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == HARNESS_FILE]
    line = frames[-1].lineno if frames else None
    if len(frames) > max_frames:
        omitted = len(frames) - max_frames
        shown = [*traceback.format_list(frames[:4]), f"  ... {omitted} frames omitted ...\n"]
        shown += traceback.format_list(frames[-(max_frames - 4) :])
    else:
        shown = traceback.format_list(frames)
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:
        text = type(exc).__name__
    tb = "Traceback (harness frames only):\n" + "".join(shown) + text[:2000]
    return _failure("exception", text, function, line, tb[-8000:])


class _Child:
    """One harness source in one fresh process."""

    def __init__(self, fd, cfg):
        self.fd, self.cfg = fd, cfg
        self.fns = {}
        self.code = None  # compiled once; a reload (same source) only runs it again

    def run_guarded(self, function, thunk):
        """Run harness code with stdout captured; returns ("ok", value) or ("fail", failure)."""
        sink = _Sink(self.cfg["max_output"])
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = sink
        try:
            value = thunk()
        except BaseException as exc:
            result = ("fail", _exception_failure(exc, function))
        else:
            result = ("ok", value)
        finally:
            if os.getpid() != self.pid:  # a fork of the harness returned into our loop: vanish
                _exit(0)
            sys.stdout, sys.stderr = saved
        if sink.size > self.cfg["max_output"]:
            msg = f"printed {sink.size} characters (limit {self.cfg['max_output']})"
            return "fail", _failure("oversized", msg, function)
        return result

    def load(self, source, mode):
        import builtins
        import linecache

        try:
            code = self.code = self.code or compile(source, HARNESS_FILE, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return _failure("syntax_error", f"{exc.msg}", None, exc.lineno)
        except (ValueError, RecursionError, MemoryError) as exc:
            return _failure("syntax_error", f"{type(exc).__name__}: {exc}")
        lines = source.splitlines(keepends=True)
        linecache.cache[HARNESS_FILE] = (len(source), None, lines, HARNESS_FILE)
        ns = {"__name__": "harness", "__builtins__": builtins}
        status, value = self.run_guarded(None, lambda: exec(code, ns))
        if status == "fail":
            return value
        import inspect

        for name, arity in self.cfg["required"][mode].items():
            fn = self.fns[name] = ns.get(name)
            if not callable(fn):
                return _failure("missing_function", f"{mode} mode needs a function {name}", name)
            try:
                inspect.signature(fn).bind(*range(arity))
            except TypeError:
                return _failure("missing_function", f"{name} must take {arity} positional argument(s)", name)
            except ValueError:
                pass  # no signature (builtin): let the call decide
        return None

    def check(self, function, value):
        """Plain types only (the parent checks again): str, bool, list[str]; sizes capped."""
        limit = self.cfg["max_return"]
        if function == "is_legal_action":
            ok = _type(value) is _bool
            want = "a plain bool (wrap it in bool(...))"
        elif function == "legal_actions":
            ok = _type(value) is _list and _all(_type(v) is _str for v in value)
            want = "a list of plain str"
            if ok and _sum(_len(v) for v in value) > limit:
                return _failure(
                    "oversized", f"returned {_len(value)} actions over {limit} characters", function
                )
        else:
            ok = _type(value) is _str
            want = "a plain str"
            if ok and _len(value) > limit:
                return _failure("oversized", f"returned {_len(value)} characters (limit {limit})", function)
        if ok:
            return None
        return _failure("bad_return", f"returned {_type(value).__name__}, expected {want}", function)

    def call(self, function, args):
        fn = self.fns[function]
        status, value = self.run_guarded(function, lambda: fn(*args))
        if status == "fail":
            return {"failure": value}
        problem = self.check(function, value)
        return {"failure": problem} if problem else {"value": value}

    def serve(self, source, mode):
        """Load, report, then answer calls until the parent closes the session socket (EOF: exit).

        ``reload`` runs the same source again in a fresh namespace: the next session of the *same* harness
        reuses this process (only this harness ever ran in it), skipping a fork.
        """
        self.pid = os.getpid()
        failure = self.load(source, mode)
        _send(self.fd, {"id": 0, "failure": failure, "pid": self.pid})
        while True:
            msg = _recv(self.fd)
            op = msg["op"]
            if op == "idle":  # may this process be kept for the next session? only if nothing runs on
                tasks = _len(os.listdir("/proc/self/task"))
                procs = (
                    _len([p for p in os.listdir("/proc") if p.isdigit()]) if self.cfg["pid_namespace"] else 3
                )
                reply = {"quiet": tasks == 1 and procs <= 3}
            elif op == "reload":
                failure = self.load(source, mode)
                times = os.times()
                reply = {"failure": failure, "cpu": times.user + times.system}
            elif failure is not None:
                reply = {"failure": failure}
            elif op == "call":
                reply = self.call(msg["fn"], msg["args"])
            else:  # "verify": propose_action then is_legal_action in one round trip (verifier hot path)
                reply = self.call("propose_action", msg["args"])
                if "value" in reply:
                    action = reply["value"]
                    checked = self.call("is_legal_action", [*msg["args"], action])
                    reply = {"action": action, **checked}
            reply["id"] = msg["id"]
            _send(self.fd, reply)


def _limit_self(cfg):
    """Drop to a throw-away uid (when the zygote may) and apply every rlimit; no way back."""
    os.setpgid(0, 0)
    if cfg["drop_uid"]:
        uid = 1_000_000 + int.from_bytes(os.urandom(3), "big")
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    for name, soft in cfg["rlimits"].items():
        which = getattr(resource, name)
        hard = soft + 1 if name == "RLIMIT_CPU" else soft  # soft: SIGXCPU; hard: SIGKILL if ignored
        resource.setrlimit(which, (soft, hard))


def _describe(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        hint = {
            "SIGXCPU": " (CPU time limit)",
            "SIGKILL": " (killed: CPU or process limit)",
            "SIGSEGV": " (crashed: segmentation fault, e.g. C stack overflow or ctypes)",
        }.get(name, "")
        return f"harness process killed by {name}{hint}"
    code = os.WEXITSTATUS(status)
    if code == 70:
        return "harness process broke the sandbox worker's own code (tampered with the interpreter)"
    return f"harness process exited with status {code}"


def _sweep(cfg, child):
    """Kill whatever the child left behind so nothing outlives its session."""
    if cfg["pid_namespace"] and os.getpid() <= 3:  # surely our own pid namespace (bwrap's init is 1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # everything in it but us and its init
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGKILL)
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _forget_privileges_to_tracers(cfg):
    """Same-uid mode (no root): make the zygote untraceable so a harness cannot steal its control socket."""
    if not cfg["drop_uid"]:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0


def main():
    ctl = socket.socket(fileno=os.dup(0))  # private control socket; harness code sees /dev/null on 0-2
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    cfd = ctl.fileno()
    cfg = _recv(cfd)
    sys.path[:0] = cfg["path"]
    _forget_privileges_to_tracers(cfg)
    import inspect  # noqa: F401  (warm imports every child would do, once, before forking)
    import linecache  # noqa: F401

    _send(cfd, {"ready": os.getpid()})
    while True:
        msg = _recv(cfd)
        ours, theirs = socket.socketpair()
        child = os.fork()
        if child == 0:
            try:
                ctl.close()  # from here on, the control channel is out of reach
                ours.close()
                _limit_self(cfg)
                _Child(theirs.fileno(), cfg).serve(msg["source"], msg["mode"])
            finally:
                _exit(70)
        theirs.close()
        socket.send_fds(ctl, [b"S"], [ours.fileno()])  # the parent talks to this child directly
        ours.close()
        _, status = os.waitpid(child, 0)
        _sweep(cfg, child)
        _send(cfd, {"exited": msg["id"], "status": _describe(status)})


if __name__ == "__main__":
    main()
