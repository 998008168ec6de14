"""Process-tree helpers shared by tests that check nothing is left running or act on a live zygote."""

from __future__ import annotations

import contextlib
import os
import resource

from autoharness.sandbox.worker import Worker


def children(pid: int) -> list[int]:
    """The direct children of ``pid``, over all its threads (from /proc; [] once it is gone)."""
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(k) for k in f.read().split()]
    return kids


def zygote(worker: Worker) -> int:
    """The zygote's pid on this side: the worker process itself, or under bwrap the first descendant running
    python (bwrap's own init sits in between)."""
    assert worker._proc is not None
    todo = [worker._proc.pid]
    while todo:
        pid = todo.pop(0)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        if b"python" in os.path.basename(argv[0]) and argv[1:4] == [b"-I", b"-S", b"-B"]:
            return pid
        todo += children(pid)
    raise AssertionError("no zygote found")


def limit_files(pid: int, soft: int) -> None:
    """Set the soft open-files limit of the live process ``pid`` (``prlimit``), as a ulimit would."""
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]))


def starve_files(worker: Worker, spare: int = 1) -> None:
    """Leave the worker's zygote ``spare`` free descriptors: one is room to sweep up, none for a harness's
    socketpair; none is not even room to list /tmp. Counted once the zygote has answered what it was asked
    (a descriptor it holds for a moment, e.g. while listing /proc to park a process, would leave it room for
    more: counted before, the zygote with no spare listed /tmp and failed at the socketpair instead)."""
    worker._drain()
    pid = zygote(worker)
    limit_files(pid, len(os.listdir(f"/proc/{pid}/fd")) + spare)
