"""The sandbox's own failures (not the harness's): the zygote runs out of file descriptors or processes,
cannot sweep up, or finds its kept process dead. Each is an expected event: a typed load failure naming the
cause, the zygote keeps serving (or the worker is replaced, saying why), and nothing is left running.

The conditions are real, set from outside on the live zygote as a machine would: ``prlimit`` (a low
``ulimit -n``) and a pids cgroup (docker's ``--pids-limit``, systemd's ``TasksMax``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoharness.sandbox import FailureKind, SandboxLimits, WorkerPool
from autoharness.sandbox.isolation import Isolation, detect
from autoharness.sandbox.worker import Worker
from tests.processes import children

from .conftest import GOOD, TEST_LIMITS, assert_pool_works

PIDS_CGROUP = Path("/sys/fs/cgroup/pids")


def _zygote(worker: Worker) -> int:
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


def _only_worker(pool: WorkerPool) -> Worker:
    (worker,) = pool._all
    return worker


def _limit_files(pid: int, soft: int) -> None:
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]))


@pytest.fixture
def fresh_pool() -> Iterator[WorkerPool]:
    with WorkerPool(1, limits=TEST_LIMITS) as pool:
        assert_pool_works(pool)  # spawned, with a kept process of GOOD
        yield pool


def test_a_zygote_out_of_file_descriptors_refuses_the_load_and_keeps_serving(fresh_pool):
    """Before: the zygote died mid-load; the session saw 'sandbox worker lost: expected a session socket'."""
    worker = _only_worker(fresh_pool)
    zygote = _zygote(worker)
    _limit_files(zygote, len(os.listdir(f"/proc/{zygote}/fd")) + 1)  # room to sweep, not for a socketpair
    with fresh_pool.session(GOOD + "# another source\n", "filter") as s:
        failure = s.load_failure
        assert failure is not None and failure.kind is FailureKind.KILLED
        assert (
            failure.message
            == "sandbox could not start the harness process: socketpair failed (Too many open files)"
        )
        assert s.propose_action("x") is failure  # every call says so; nothing was run
    assert children(zygote) == []  # the kept process was ended, no harness process started
    _limit_files(zygote, 1024)  # the condition passes: the same zygote serves again
    assert_pool_works(fresh_pool)
    assert worker.spawns == 1 and worker.retired == [] and _zygote(worker) == zygote


def test_a_zygote_that_cannot_check_its_sandbox_is_clean_is_replaced_and_says_why(fresh_pool):
    worker = _only_worker(fresh_pool)
    zygote = _zygote(worker)
    _limit_files(zygote, len(os.listdir(f"/proc/{zygote}/fd")))  # not even one more: /tmp cannot be listed
    with fresh_pool.session(GOOD + "# another source\n", "filter") as s:
        assert s.load_failure is None and s.propose_action("ab") == "AB"  # served by a fresh sandbox
    if detect().bwrap:
        assert worker.retired == [
            "sandbox could not start the harness process: could not clean up after the last harness: "
            "cannot list /tmp (Too many open files)"
        ]
        assert worker.spawns == 2 and not os.path.exists(f"/proc/{zygote}")


def test_a_kept_process_that_died_while_frozen_is_replaced_in_the_same_zygote(fresh_pool):
    """Before: the zygote reaped it, then waited for it again (ChildProcessError) and died; the worker was
    respawned."""
    worker = _only_worker(fresh_pool)
    if not worker.isolation.bwrap:
        pytest.skip("processes are only kept under bwrap")
    (kept,) = children(_zygote(worker))
    for _ in range(200):  # the zygote freezes it after the session closed
        with open(f"/proc/{kept}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                break
        time.sleep(0.01)
    else:
        raise AssertionError("the finished session's process was not kept frozen")
    os.kill(kept, signal.SIGKILL)  # e.g. the OOM killer, while it was frozen between sessions
    time.sleep(0.05)
    assert_pool_works(fresh_pool)
    assert worker.spawns == 1


def test_a_fallback_harness_that_swaps_its_tmp_for_a_symlink_cannot_make_the_sweep_follow_it(tmp_path):
    """Without bwrap a harness owns its private directory. Before: one that replaced it with a symlink had
    the zygote's sweeper empty the link's target (here a canary; it could be any directory of the user), and
    one that removed it ended the zygote ('sandbox worker lost')."""
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("mine")
    swap = GOOD + (
        "\nimport os\ndef propose_action(obs):\n    here = os.getcwd()\n"
        "    os.chdir('/')\n    os.rmdir(here)\n"
        f"    if obs == 'link':\n        os.symlink({str(canary)!r}, here)\n    return here\n"
    )
    forced = Isolation(None, os.geteuid() == 0, "forced by the test")
    with WorkerPool(1, limits=SandboxLimits(call_timeout=2.0), isolation=forced) as pool:
        for obs in ("link", "gone"):
            with pool.session(swap + f"# {obs}\n", "policy") as s:
                here = s.propose_action(obs)
            assert_pool_works(pool)
            assert not os.path.lexists(here)
        assert _only_worker(pool).spawns == 1
    assert (canary / "keep.txt").read_text() == "mine"


@contextlib.contextmanager
def _pids_cgroup(pid: int) -> Iterator[Path]:
    """``pid`` alone in a fresh pids cgroup (v1), moved back and the cgroup removed afterwards."""
    group = PIDS_CGROUP / f"autoharness-test-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
    except OSError as exc:
        pytest.skip(f"no writable pids cgroup here ({exc.strerror})")
    try:
        (group / "cgroup.procs").write_text(str(pid))
        yield group
    finally:
        with contextlib.suppress(OSError):
            (group / "pids.max").write_text("max")
            (PIDS_CGROUP / "cgroup.procs").write_text(str(pid))
        for _ in range(100):
            with contextlib.suppress(OSError):
                group.rmdir()
                break
            time.sleep(0.01)


def test_a_zygote_at_its_process_limit_refuses_the_load_and_keeps_serving(fresh_pool):
    """Before: os.fork() raised EAGAIN in the zygote, which died mid-load ('sandbox worker lost')."""
    worker = _only_worker(fresh_pool)
    zygote = _zygote(worker)
    with _pids_cgroup(zygote) as group:
        (group / "pids.max").write_text("1")  # the zygote itself, nothing more
        with fresh_pool.session(GOOD + "# another source\n", "filter") as s:
            failure = s.load_failure
            assert failure is not None and failure.kind is FailureKind.KILLED
            expected = (
                "sandbox could not start the harness process: fork failed (Resource temporarily unavailable)"
            )
            assert failure.message == expected
        assert children(zygote) == []
        (group / "pids.max").write_text("max")
        assert_pool_works(fresh_pool)
    assert worker.spawns == 1 and worker.retired == []


def test_a_zygote_that_cannot_fork_its_sweeper_is_replaced_before_the_next_harness_sees_the_files():
    dirty = (
        GOOD + "\ndef propose_action(obs):\n    open('/tmp/left-behind', 'w').write(obs)\n    return 'ok'\n"
    )
    peek = GOOD + "\nimport os\ndef propose_action(obs):\n    return ','.join(os.listdir('/tmp'))\n"
    with WorkerPool(1, limits=TEST_LIMITS) as pool:
        if not pool.isolation.bwrap:
            pytest.skip("a shared /tmp to sweep only exists under bwrap")
        with pool.session(dirty, "policy") as s:
            assert s.propose_action("secret") == "ok"
        worker = _only_worker(pool)
        zygote = _zygote(worker)
        with _pids_cgroup(zygote) as group:
            (group / "pids.max").write_text(
                "1"
            )  # the sweeper cannot be forked (its kept child counts elsewhere)
            with pool.session(peek, "policy") as s:
                assert s.propose_action("") == ""  # a fresh sandbox: the file did not carry over
        assert worker.retired == [
            "sandbox could not start the harness process: could not clean up after the last harness: "
            "fork failed (Resource temporarily unavailable)"
        ]
        assert worker.spawns == 2 and not os.path.exists(f"/proc/{zygote}")
        assert_pool_works(pool)
