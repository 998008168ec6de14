"""How a worker is confined: the bubblewrap command line, the rlimits, and which of them this machine allows.

Layers, outermost first: bubblewrap (own network/pid/ipc/uts namespaces; a read-only view of the system
directories /usr, /bin, /lib*, /sbin plus the Python install, numpy and the worker's own source file — not
/home, /root, /etc or the project; a private size-capped tmpfs; environment cleared; capabilities dropped;
dies with its parent), then inside it, per harness process: a throw-away uid (when we start as root),
rlimits, and a seccomp filter refusing SysV IPC. Without bwrap the worker runs with rlimits and the seccomp
filter only, and we say so loudly.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .contract import MAX_ACTION_CHARS, MAX_LISTED_ACTIONS, REQUIRED_FUNCTIONS

LIB_DIR = "/opt/harness-lib"
"""Where numpy appears inside the sandbox (the project tree and site-packages stay invisible)."""

WORKER_SOURCE = Path(__file__).with_name("_worker.py")
WORKER_IN_SANDBOX = "/opt/autoharness-worker.py"
"""The worker runs from its file (read-only inside bwrap), not from ``-c <source>`` on the command line."""

_CLEAN_ENV = {
    "PATH": "/usr/bin:/bin",
    "LC_ALL": "C.UTF-8",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Per-call and per-process limits for harness code. Timeouts are wall-clock seconds."""

    call_timeout: float = 5.0
    load_timeout: float = 20.0
    memory_mb: int = 1024  # address space of the harness process
    cpu_seconds: int = 10  # CPU time of one call (all threads); every call starts a fresh budget
    max_processes: int = 16  # processes + threads of one harness uid
    file_mb: int = 16  # largest file it may write (in its private tmp)
    tmp_mb: int = 64  # size of its private tmp
    open_files: int = 64
    max_output: int = 1_000_000  # characters printed per call before it counts as OVERSIZED
    max_return: int = 1_000_000  # characters returned per call


@dataclass(frozen=True, slots=True)
class Isolation:
    """What this machine gives us. ``reason`` says why bwrap is not used when it is not."""

    bwrap: str | None
    root: bool
    reason: str | None = None

    @property
    def kind(self) -> str:
        return "bwrap" if self.bwrap else "rlimits-only"

    @property
    def own_uid(self) -> bool:
        """Each harness process runs under a throw-away uid: it cannot signal or trace the zygote."""
        return bool(self.bwrap) and self.root


def _python() -> tuple[str, str]:
    """The real interpreter (not the venv's symlink) and the install prefix it needs."""
    return os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix)


def _numpy_dirs() -> list[Path]:
    """numpy's package dir and its bundled shared libraries, located without importing numpy."""
    spec = importlib.util.find_spec("numpy")
    if spec is None or not spec.submodule_search_locations:
        return []
    pkg = Path(next(iter(spec.submodule_search_locations)))
    return [p for p in (pkg, pkg.with_name("numpy.libs")) if p.is_dir()]


def _dir_chain(path: str) -> list[str]:
    """bwrap args creating every ancestor of ``path`` world-traversable (bwrap's default is 0700)."""
    args: list[str] = []
    parts = Path(path).parts[1:-1]
    for i in range(len(parts)):
        args += ["--perms", "0755", "--dir", "/" + "/".join(parts[: i + 1])]
    return args


@cache
def _bwrap_version(bwrap: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout
        return tuple(int(x) for x in out.split()[-1].split("."))
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return (0,)


def bwrap_args(bwrap: str, limits: SandboxLimits, root: bool) -> list[str]:
    """The bubblewrap prefix of the worker command."""
    exe, prefix = _python()
    args = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if root:  # the zygote keeps just enough to hand each harness its own uid and sweep up after it
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL"]
    else:  # unprivileged: a user namespace with one mapped uid (and no nested ones, where bwrap can)
        args += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
        args += ["--disable-userns"] if _bwrap_version(bwrap) >= (0, 8) else []
    args += ["--clearenv"]
    for key, value in _CLEAN_ENV.items():
        args += ["--setenv", key, value]
    for top in ("usr", "bin", "lib", "lib64", "sbin"):
        host = Path("/" + top)
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    for path in {prefix, os.path.dirname(os.path.dirname(exe))}:
        if not path.startswith("/usr/"):
            args += [*_dir_chain(path), "--ro-bind", path, path]
    args += ["--perms", "0755", "--dir", "/opt", "--perms", "0755", "--dir", LIB_DIR]
    args += ["--ro-bind", str(WORKER_SOURCE), WORKER_IN_SANDBOX]
    for d in _numpy_dirs():
        args += ["--ro-bind", str(d), f"{LIB_DIR}/{d.name}"]
    args += ["--dev", "/dev", "--proc", "/proc"]
    if _bwrap_version(bwrap) >= (0, 7):  # older bwrap: the tmpfs is only bounded by RLIMIT_FSIZE per file
        args += ["--size", str(limits.tmp_mb << 20)]
    args += ["--perms", "1777", "--tmpfs", "/tmp", "--chdir", "/tmp"]
    return args


def python_args(in_bwrap: bool) -> list[str]:
    """Isolated mode, no site, no bytecode writes; the worker's file (a short command line for ``ps``)."""
    exe, _ = _python()
    return [exe, "-I", "-S", "-B", WORKER_IN_SANDBOX if in_bwrap else str(WORKER_SOURCE)]


def _user_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                count += entry.stat().st_uid == uid
    return count


def rlimits(limits: SandboxLimits, isolation: Isolation) -> dict[str, int]:
    """The rlimits the harness process sets on itself (names of ``resource`` constants)."""
    out = {
        "RLIMIT_AS": limits.memory_mb << 20,
        "RLIMIT_CPU": limits.cpu_seconds,  # soft, per call (the worker moves it on); hard: unlimited
        "RLIMIT_FSIZE": limits.file_mb << 20,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_CORE": 0,
        "RLIMIT_NPROC": limits.max_processes,
    }
    if not isolation.bwrap:
        # no own uid or user namespace: the count is the whole user's (and root is exempt anyway)
        out["RLIMIT_NPROC"] = _user_process_count() + limits.max_processes
    return out


def worker_config(limits: SandboxLimits, isolation: Isolation) -> dict[str, object]:
    """The first message a worker gets: how to confine each harness child."""
    path = [LIB_DIR] if isolation.bwrap else sorted({str(d.parent) for d in _numpy_dirs()})
    return {
        "path": path,
        "drop_uid": isolation.own_uid,
        "pid_namespace": bool(isolation.bwrap),
        "rlimits": rlimits(limits, isolation),
        "required": REQUIRED_FUNCTIONS,
        "max_output": limits.max_output,
        "max_return": limits.max_return,
        "max_action": MAX_ACTION_CHARS,
        "max_listed": MAX_LISTED_ACTIONS,
        "cpu_per_call": limits.cpu_seconds,
    }


def clean_env() -> dict[str, str]:
    """The environment of the worker process itself (bwrap clears it again inside)."""
    return dict(_CLEAN_ENV)


@cache
def detect() -> Isolation:
    """Probe once whether bubblewrap can start a worker here; warn loudly when it cannot."""
    root = os.geteuid() == 0
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        iso = Isolation(None, root, "bwrap not installed (Debian/Ubuntu: apt-get install bubblewrap)")
    else:
        cmd = [*bwrap_args(bwrap, SandboxLimits(), root), _python()[0], "-I", "-S", "-c", "pass"]  # probe
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=clean_env())
        except (OSError, subprocess.TimeoutExpired) as exc:
            iso = Isolation(None, root, f"bwrap failed to start: {exc}")
        else:
            if proc.returncode == 0:
                return Isolation(bwrap, root)
            lines = (proc.stderr or f"exit status {proc.returncode}").strip().splitlines()
            iso = Isolation(None, root, f"bwrap failed: {lines[-1] if lines else proc.returncode}")
    warnings.warn(
        textwrap.shorten(
            f"SANDBOX WEAKENED: {iso.reason}. Harness code will run with rlimits only: it can read your "
            "files, reach the network and, running as root, read this process's environment (API keys). "
            "Run scripts/bootstrap.sh or install bubblewrap.",
            400,
        ),
        RuntimeWarning,
        stacklevel=2,
    )
    _undumpable()
    return iso


def _undumpable() -> None:
    """Without bwrap a harness runs under our uid: make this process non-dumpable so that a non-root
    harness cannot read ``/proc/<our pid>/environ`` (API keys) or ptrace us. (Root keeps its powers.)"""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0


__all__ = ["Isolation", "SandboxLimits", "detect", "rlimits"]
