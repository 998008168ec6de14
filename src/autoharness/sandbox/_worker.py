"""The code that runs *inside* the sandbox (stdlib only; started as ``python -I -S -B <this file>``, the file
bound read-only into the sandbox).

It is a zygote: it never runs harness code itself. For each harness source it forks a fresh child, which
drops to its own throw-away uid, sets its rlimits, installs a seccomp filter that refuses SysV IPC and POSIX
message queues (memory outside any rlimit, and state a later harness could see), loads the source into a
pristine interpreter and serves calls until told to end. A harness therefore cannot monkeypatch anything
that a later harness will see, and cannot signal or trace the zygote (different uid). When the child is gone
(ended, crashed, killed by a limit, or ended by the zygote) the zygote sweeps every leftover process of the
sandbox, every IPC object and every file in the private tmp, so the next harness starts from nothing.

Channels: a control socket (parent ↔ zygote, request/reply: load, park, resume, end) that the child closes
before any harness code runs, and one fresh socketpair per child, whose other end is passed to the parent
over the control socket (SCM_RIGHTS). A harness that corrupts its own process can therefore only ever talk
on its own session's socket, never impersonate the zygote to a later harness.
Frames: 4-byte big-endian length + UTF-8 JSON object. The parent validates every reply again.

A finished session's process may be kept for the next session of the same source, but only frozen: the
zygote stops it (SIGSTOP, which cannot be caught) once it is the sandbox's only process with one thread, so a
kept process provably runs nothing until the same harness is resumed.
"""

import contextlib
import json
import math
import os
import resource
import select
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback

HARNESS_FILE = "<harness>"
_HEADER = struct.Struct(">I")
# private references, taken before any harness runs: patching builtins cannot change our own checks
_type, _len, _sum, _all, _any, _str, _list, _bool = type, len, sum, all, any, str, list, bool
_dumps, _loads, _read, _write, _exit = json.dumps, json.loads, os.read, os.write, os._exit
_monotonic, _select = time.monotonic, select.select
_times, _setrlimit, _getrlimit, _ceil = os.times, resource.setrlimit, resource.getrlimit, math.ceil
_RLIM_INFINITY = resource.RLIM_INFINITY


def _capped(which, soft, hard):
    """(soft, hard) no higher than the hard limit this process was given: only root may raise a hard limit,
    so under a finite one (``ulimit -Ht``, a batch scheduler, mutmut's per-mutant CPU limit) asking for more
    would fail every harness process at start-up."""
    given = _getrlimit(which)[1]
    if given == _RLIM_INFINITY:
        return soft, hard
    return (
        given if soft == _RLIM_INFINITY else min(soft, given),
        given if hard == _RLIM_INFINITY else min(hard, given),
    )


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
        self.cpu_limit = cfg["cpu_per_call"]  # the soft RLIMIT_CPU set by _limit_self

    def new_cpu_budget(self):
        """Give the next call its full CPU budget: the soft RLIMIT_CPU moves to (CPU used so far + budget).

        The budget is per call, not per process: a harness that stays within it on every call is never
        killed, however long its session. (The hard limit is unlimited unless we were given one, so a harness
        that ignores SIGXCPU is stopped by the per-call wall-clock timeout instead.)
        """
        times = _times()
        limit = _ceil(times.user + times.system) + self.cfg["cpu_per_call"]
        if limit != self.cpu_limit:
            _setrlimit(resource.RLIMIT_CPU, _capped(resource.RLIMIT_CPU, limit, resource.RLIM_INFINITY))
            self.cpu_limit = limit

    def run_guarded(self, function, thunk):
        """Run harness code with stdout captured; returns ("ok", value) or ("fail", failure)."""
        self.new_cpu_budget()
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
            longest = self.cfg["max_action"]
            if ok and _len(value) > self.cfg["max_listed"]:
                msg = f"returned {_len(value)} actions (limit {self.cfg['max_listed']})"
                return _failure("oversized", msg, function)
            if ok and _any(_len(v) > longest for v in value):
                return _failure("oversized", f"listed an action over {longest} characters", function)
        else:
            ok = _type(value) is _str
            want = "a plain str"
            limit = self.cfg["max_action"]
            if ok and _len(value) > limit:
                msg = f"returned an action of {_len(value)} characters (limit {limit})"
                return _failure("oversized", msg, function)
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

    def start(self, source, mode, confinement):
        """Confine this process, then serve; a confinement step that fails (the sandbox's own failure, e.g.
        the process limit of the harness uid) is reported as the load's failure and nothing runs."""
        try:
            _limit_self(self.cfg, *confinement)
        except _Unconfined as exc:
            failure = _failure("killed", f"sandbox could not confine the harness process: {exc}")
            _send(self.fd, {"id": 0, "failure": failure, "pid": os.getpid()})
            _exit(_UNCONFINED)
        self.serve(source, mode)

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
            if op == "reload":
                failure = self.load(source, mode)
                reply = {"failure": failure}
            elif failure is not None:
                reply = {"failure": failure}
            elif op == "call":
                reply = self.call(msg["fn"], msg["args"])
            elif op == "batch":  # several calls in one round trip (verify: every check at one position)
                reply = {"results": [self.call(fn, args) for fn, args in msg["calls"]]}
            else:  # "verify": propose_action then is_legal_action in one round trip (verifier hot path)
                reply = self.call("propose_action", msg["args"])
                if "value" in reply:
                    action = reply["value"]
                    checked = self.call("is_legal_action", [*msg["args"], action])
                    reply = {"action": action, **checked}
            reply["id"] = msg["id"]
            _send(self.fd, reply)


# --- seccomp: no SysV IPC, no POSIX message queues --------------------------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_IPC_SYSCALLS = {
    # shmget shmat shmctl semget semop semctl shmdt msgget msgsnd msgrcv msgctl semtimedop, mq_open..+5
    "x86_64": (29, 30, 31, 64, 65, 66, 67, 68, 69, 70, 71, 220, 240, 241, 242, 243, 244, 245),
    # mq_open..+5, msgget msgctl msgrcv msgsnd semget semctl semtimedop semop shmget shmctl shmat shmdt
    "aarch64": (180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194, 195, 196, 197),
}


def _ipc_filter():
    """A classic-BPF seccomp program: the IPC syscalls (and every syscall of a foreign ABI, e.g. 32-bit x86
    or x32, where the numbers differ) fail with EPERM; everything else is allowed. None on another arch."""
    machine = os.uname().machine
    if machine not in _AUDIT_ARCH:
        return None
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    numbers = _IPC_SYSCALLS[machine]
    n = _len(numbers)
    prog = [(ld, 0, 0, 4), (jeq, 1, 0, _AUDIT_ARCH[machine]), (ret, 0, 0, deny), (ld, 0, 0, 0)]
    prog.append((jge, n + 1, 0, 0x40000000))  # x32 syscall numbers: deny
    prog += [(jeq, n - i, 0, nr) for i, nr in enumerate(numbers)]  # jump to the deny at the end
    prog += [(ret, 0, 0, allow), (ret, 0, 0, deny)]
    return b"".join(struct.pack("=HBBI", *insn) for insn in prog), _len(prog)


def _install_ipc_filter(prog):
    """No new privileges, then the filter (both irreversible). Returns whether it is in place."""
    if prog is None:
        return False
    import ctypes

    code, count = prog
    buf = ctypes.create_string_buffer(code, _len(code))

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = _Prog(count, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(38, 1, None, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        return False
    return libc.prctl(22, 2, ctypes.addressof(fprog), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


class _Unconfined(Exception):
    """A confinement step of a fresh harness process failed (the message names it); no harness code ran."""


_UNCONFINED = 71
"""Exit status of a harness process that could not be confined."""


def _limit_self(cfg, uid, tmp, ipc_filter):
    """Drop to a throw-away uid (when the zygote may), apply every rlimit, refuse IPC; no way back."""
    step = "setpgid"
    try:
        os.setpgid(0, 0)
        if tmp != "/tmp":  # no bwrap: a private directory stands in for the private tmpfs
            step = "entering its private tmp directory"
            os.environ["TMPDIR"] = os.environ["HOME"] = tmp
            os.chdir(tmp)
        if uid is not None:
            step = "switching to its own uid"
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        for name, soft in cfg["rlimits"].items():
            step = f"setting {name}"
            which = getattr(resource, name)
            # CPU: the soft limit is a per-call budget that each call moves on (see _Child.new_cpu_budget)
            hard = resource.RLIM_INFINITY if name == "RLIMIT_CPU" else soft
            resource.setrlimit(which, _capped(which, soft, hard))
    except (OSError, ValueError) as exc:
        raise _Unconfined(f"{step} failed ({getattr(exc, 'strerror', None) or exc})") from None
    _install_ipc_filter(ipc_filter)


def _describe(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        hint = {
            "SIGXCPU": " (CPU time limit of one call)",
            "SIGKILL": " (killed: CPU or process limit)",
            "SIGSEGV": " (crashed: segmentation fault, e.g. C stack overflow or ctypes)",
        }.get(name, "")
        return f"harness process killed by {name}{hint}"
    code = os.WEXITSTATUS(status)
    if code == _UNCONFINED:
        return "sandbox could not confine the harness process (no harness code ran)"
    if code == 70:
        return "harness process broke the sandbox worker's own code (tampered with the interpreter)"
    return f"harness process exited with status {code}"


def _proc_field(pid, name):
    """A field of /proc/<pid>/status (readable for any process of our pid namespace), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _rmtree_contents(top):
    """Delete everything under ``top`` that this process may (owner: it can chmod its own dirs first)."""
    for entry in os.listdir(top):
        path = os.path.join(top, entry)
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
                _rmtree_contents(path)
                os.rmdir(path)
            else:
                os.unlink(path)


def _ipc_ids():
    """The SysV IPC objects of this IPC namespace: (kind, id) pairs."""
    found = []
    for kind, column in (("shm", 1), ("sem", 1), ("msg", 1)):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        found += [(kind, int(row.split()[column])) for row in rows if row.split()]
    return found


def _remove_ipc(ids):
    import ctypes

    libc = ctypes.CDLL(None)
    remove = {"shm": libc.shmctl, "sem": libc.semctl, "msg": libc.msgctl}
    for kind, ident in ids:
        remove[kind](ident, *((0, 0) if kind == "sem" else (0,)), None)  # IPC_RMID = 0


class _Zygote:
    """Forks harness processes one at a time and keeps the sandbox clean between them."""

    def __init__(self, ctl, cfg, report):
        self.ctl, self.cfg, self.report = ctl, cfg, report
        self.child = self.uid = None
        self.tmp = "/tmp"
        self.status = "no harness process ran yet"
        self.broken = None  # why the sandbox can no longer be promised clean for the next harness
        self.ipc_filter = _ipc_filter()
        self.own_namespaces = cfg["pid_namespace"]  # under bwrap: own pid, IPC and mount namespaces

    def load(self, msg):
        """Fork a harness process for ``msg`` and pass its session socket to the parent, or refuse.

        Our own work here can fail (out of file descriptors, a full or unwritable /tmp, the process limit):
        that is the sandbox's failure, not the harness's, and never ends the zygote. It answers with a
        refusal naming the cause (``retire`` when it cannot promise the next harness a clean sandbox, so the
        parent replaces this worker) and undoes whatever it had made.
        """
        self.end(0.0)
        if self.broken:
            return self._refuse(self.broken, retire=True)
        step, sockets, child = "socketpair", (), None
        try:
            ours, theirs = sockets = socket.socketpair()
            self.uid = 1_000_000 + int.from_bytes(os.urandom(3), "big") if self.cfg["drop_uid"] else None
            if not self.own_namespaces:  # no private tmpfs: a private directory instead, removed afterwards
                # a fresh name (mode 0o700), never a reused one: a pid recurs, and a directory left behind
                # made mkdir fail, which ended the zygote mid-load ("expected a session socket")
                step = "creating its private tmp directory"
                self.tmp = tempfile.mkdtemp(prefix=f"autoharness-{os.getpid()}-", dir="/tmp")
            step = "fork"
            child = os.fork()
            if child == 0:
                try:
                    self.ctl.close()  # from here on, the control channel is out of reach
                    os.close(self.report)  # and so is the zygote's stderr
                    ours.close()
                    confinement = self.uid, self.tmp, self.ipc_filter
                    _Child(theirs.fileno(), self.cfg).start(msg["source"], msg["mode"], confinement)
                finally:
                    _exit(70)
            self.child = child
            theirs.close()
            step = "passing the session socket"
            socket.send_fds(self.ctl, [b"S"], [ours.fileno()])  # the parent talks to this child directly
        except OSError as exc:
            for sock in sockets:
                sock.close()
            if child is None:
                self._remove_tmp()
            else:
                self.end(0.0)  # forked, but the parent never got its socket: nothing may outlive the load
            return self._refuse(f"{step} failed ({exc.strerror or exc})", retire=bool(self.broken))
        ours.close()

    def _refuse(self, cause, retire):
        """A load that produced no harness process: a marker byte without a socket, then the reason."""
        self.ctl.sendall(b"F")
        _send(
            self.ctl.fileno(),
            {"refused": f"sandbox could not start the harness process: {cause}", "retire": retire},
        )

    def _wait(self, timeout):
        """Reap the child, waiting up to ``timeout`` s for it to exit by itself; then it is killed."""
        deadline = _monotonic() + timeout
        try:
            pidfd = os.pidfd_open(self.child)
        except (AttributeError, OSError):
            pidfd = None
        try:
            while True:
                pid, status = os.waitpid(self.child, os.WNOHANG)
                if pid:
                    return _describe(status)
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    os.kill(self.child, signal.SIGKILL)
                    status = os.waitpid(self.child, 0)[1]
                    return _describe(status) if timeout == 0 else "harness process did not exit; killed"
                if pidfd is not None:
                    _select((pidfd,), (), (), remaining)
                else:
                    time.sleep(min(remaining, 0.001))
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def end(self, wait):
        """End the current child (if any) and sweep; how it ended."""
        if self.child is None:
            return self.status
        return self._ended(self._wait(wait))

    def _ended(self, status):
        self.status = status
        self._sweep()
        self.child = None
        return self.status

    def _sweep(self):
        """Kill whatever the child left behind, remove its IPC objects and its files: nothing outlives it.

        What cannot be swept (the sweeper could not be forked, files would not go) marks the sandbox broken:
        the next load is refused with ``retire`` and the parent starts a fresh sandbox instead.
        """
        if self.own_namespaces and os.getpid() <= 3:  # surely our own pid namespace (bwrap's init is 1)
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)  # everything in it but us and its init
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.child, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        if os.path.islink(self.tmp) or not os.path.isdir(self.tmp):  # the fallback's dir, replaced or gone
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)
            return
        ipc = _ipc_ids() if self.own_namespaces else []  # the host's IPC objects are not ours to remove
        left = _listed(self.tmp)
        if not ipc and left == []:
            self._remove_tmp()
            return
        try:
            sweeper = os.fork()  # as the child's uid: it owns what it left (and dirs it locked itself out of)
        except OSError as exc:
            self.broken = f"could not clean up after the last harness: fork failed ({exc.strerror})"
            self._remove_tmp()
            return
        if sweeper == 0:
            try:
                if self.uid is not None:
                    os.setgroups([])
                    os.setgid(self.uid)
                    os.setuid(self.uid)
                _remove_ipc(ipc)
                _rmtree_contents(self.tmp)
            finally:
                _exit(0)
        os.waitpid(sweeper, 0)
        left = _listed(self.tmp)
        if self.own_namespaces and left != []:  # the next harness would find them in its /tmp
            what = f"cannot list /tmp ({left})" if _type(left) is _str else f"{_len(left)} files would not go"
            self.broken = f"could not clean up after the last harness: {what}"
        self._remove_tmp()

    def _remove_tmp(self):
        """The harness's private directory of the rlimits-only fallback (an empty one was left behind)."""
        if self.tmp != "/tmp":
            with contextlib.suppress(OSError):
                os.rmdir(self.tmp)

    def park(self):
        """Freeze the finished session's process for reuse, if it is the sandbox's only process and has one
        thread; otherwise end it. Returns whether it is parked."""
        child = self.child
        if child is None:
            return False
        if self.own_namespaces:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGSTOP)  # cannot be caught, blocked or ignored
            deadline = _monotonic() + 1.0
            while (_proc_field(child, "State") or "T")[0] not in "TtXZ" and _monotonic() < deadline:
                time.sleep(0.0001)
            state = _proc_field(child, "State") or "X"
            processes = _listed("/proc")
            alone = _proc_field(child, "Threads") == "1" and _type(processes) is _list
            if state[0] in "Tt" and alone and _len([p for p in processes if p.isdigit()]) <= 3:
                return True
        self.end(0.0)
        return False

    def resume(self):
        if self.child is None:
            return False
        pid, status = os.waitpid(self.child, os.WNOHANG)
        if pid:  # it died while kept (e.g. the OOM killer): reaped here, so say how and sweep now
            self._ended(_describe(status))
            return False
        os.kill(self.child, signal.SIGCONT)
        return True


def _listed(path):
    """The names in ``path``, or the reason it cannot be read (a str: e.g. out of file descriptors)."""
    try:
        return os.listdir(path)
    except OSError as exc:
        return _str(exc.strerror or exc)


def _forget_privileges_to_tracers(cfg):
    """Same-uid mode (no root): make the zygote untraceable so a harness cannot steal its control socket."""
    if not cfg["drop_uid"]:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0


def main():
    ctl = socket.socket(fileno=os.dup(0))  # private control socket; harness code sees /dev/null on 0-2
    report = os.dup(2)  # the zygote's own last words (a harness process closes it before anything runs)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    cfd = ctl.fileno()
    cfg = _recv(cfd)
    sys.path[:0] = cfg["path"]
    _forget_privileges_to_tracers(cfg)
    import ctypes  # noqa: F401  (warm imports every child would do, once, before forking)
    import inspect  # noqa: F401
    import linecache  # noqa: F401

    zygote = _Zygote(ctl, cfg, report)
    _send(cfd, {"ready": os.getpid()})
    try:
        _serve(zygote, cfd)
    except Exception:  # our own bug, or a control frame we cannot read: the parent learns why we ended
        with contextlib.suppress(OSError):
            _write(report, traceback.format_exc()[-4000:].encode(errors="replace"))
        _exit(1)


def _serve(zygote, cfd):
    """Answer the parent's requests until it hangs up (EOF ends this process)."""
    while True:
        msg = _recv(cfd)
        op = msg.get("op")
        if op == "load":
            zygote.load(msg)  # its reply is the session socket
        elif op == "park":
            _send(cfd, {"parked": zygote.park()})
        elif op == "resume":
            _send(cfd, {"resumed": zygote.resume()})
        else:  # "end": how the current harness process ended (ending it after ``wait`` seconds)
            _send(cfd, {"ended": True, "status": zygote.end(msg.get("wait", 0.0))})


if __name__ == "__main__":
    main()
