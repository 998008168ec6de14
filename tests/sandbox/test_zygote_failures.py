"""The sandbox's own failures (not the harness's): the zygote runs out of file descriptors or processes,
cannot sweep up, or finds its kept process dead. Each is an expected event: a typed load failure naming the
cause, the zygote keeps serving (or the worker is replaced, saying why), and nothing is left running.

The conditions are real, set from outside on the live zygote as a machine would: ``prlimit`` (a low
``ulimit -n``) and a pids cgroup (docker's ``--pids-limit``, systemd's ``TasksMax``).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoharness.errors import SandboxError
from autoharness.sandbox import FailureKind, HarnessFailure, SandboxLimits, WorkerPool
from autoharness.sandbox import pool as pool_module
from autoharness.sandbox.isolation import Isolation, detect
from autoharness.sandbox.worker import Worker
from tests.processes import children, limit_files, starve_files
from tests.processes import zygote as zygote_of

from .conftest import GOOD, TEST_LIMITS, assert_pool_works

PIDS_CGROUP = Path("/sys/fs/cgroup/pids")


def _only_worker(pool: WorkerPool) -> Worker:
    (worker,) = pool._all
    return worker


@pytest.fixture
def fresh_pool() -> Iterator[WorkerPool]:
    with WorkerPool(1, limits=TEST_LIMITS) as pool:
        assert_pool_works(pool)  # spawned, with a kept process of GOOD
        yield pool


REFUSED_FDS = "sandbox could not start the harness process: socketpair failed (Too many open files)"


@pytest.fixture
def quick_retries(monkeypatch) -> None:
    """One retry of a refused load, 10 ms later (``LOAD_RETRY_PAUSES`` waits seconds)."""
    monkeypatch.setattr(pool_module, "LOAD_RETRY_PAUSES", (0.01,))


def test_a_zygote_out_of_file_descriptors_refuses_the_load_and_keeps_serving(fresh_pool, quick_retries):
    """Before 15zyg: the zygote died mid-load ('sandbox worker lost: expected a session socket'). Before
    15refuse: the refusal was the harness's load failure (KILLED), scored and fed back as its bug."""
    worker = _only_worker(fresh_pool)
    zygote = zygote_of(worker)
    starve_files(worker)
    with pytest.raises(SandboxError) as refused, fresh_pool.session(GOOD + "# another source\n", "filter"):
        pass
    assert str(refused.value) == f"{REFUSED_FDS} (tried 2 times)"
    assert children(zygote) == []  # the kept process was ended, no harness process started
    limit_files(zygote, 1024)  # the condition passes: the same zygote serves again
    assert_pool_works(fresh_pool)
    assert worker.spawns == 1 and worker.retired == [] and zygote_of(worker) == zygote


def test_a_refusal_in_the_middle_of_a_session_is_raised_not_returned_as_the_harness_failing(
    fresh_pool, quick_retries
):
    """After a harness's fatal failure its next call reloads it in a fresh process: a refusal there is not
    that call's failure (before: a KILLED 'sandbox could not start ...', counted as the harness's)."""
    crash = GOOD + "\nimport os\ndef propose_action(obs):\n    os._exit(3)\n"
    with fresh_pool.session(crash, "filter") as s:
        first = s.propose_action("x")
        assert isinstance(first, HarnessFailure) and first.kind is FailureKind.KILLED  # its own doing
        starve_files(_only_worker(fresh_pool))
        with pytest.raises(SandboxError, match=re.escape(REFUSED_FDS)):
            s.legal_actions("x")
    limit_files(zygote_of(_only_worker(fresh_pool)), 1024)
    assert_pool_works(fresh_pool)


def test_a_refusal_that_passes_is_retried_and_the_harness_loads(fresh_pool, caplog):
    """A limit reached for a moment (other processes' files, a burst of forks) costs a pause, not a run."""
    worker = _only_worker(fresh_pool)
    zygote = zygote_of(worker)
    starve_files(worker)
    lift = threading.Timer(0.3, limit_files, (zygote, 1024))  # within the retries' first pauses (0.1, 0.5 s)
    lift.start()
    try:
        with fresh_pool.session(GOOD + "# another source\n", "filter") as s:
            assert s.load_failure is None and s.propose_action("ab") == "AB"
    finally:
        lift.join()
    assert f"{REFUSED_FDS}; trying again in 0.1 s" in caplog.messages
    assert worker.spawns == 1 and zygote_of(worker) == zygote


def test_a_zygote_that_cannot_check_its_sandbox_is_clean_is_replaced_and_says_why(fresh_pool):
    worker = _only_worker(fresh_pool)
    zygote = zygote_of(worker)
    starve_files(worker, spare=0)  # not even one more: /tmp cannot be listed
    with fresh_pool.session(GOOD + "# another source\n", "filter") as s:
        assert s.load_failure is None and s.propose_action("ab") == "AB"  # served by a fresh sandbox
    if detect().bwrap:
        assert worker.retired == [
            "sandbox could not start the harness process: could not clean up after the last harness: "
            "cannot list /tmp (Too many open files)"
        ]
        assert worker.spawns == 2 and not os.path.exists(f"/proc/{zygote}")


def test_a_kept_process_that_died_while_frozen_is_replaced_in_the_samezygote(fresh_pool):
    """Before: the zygote reaped it, then waited for it again (ChildProcessError) and died; the worker was
    respawned."""
    worker = _only_worker(fresh_pool)
    if not worker.isolation.bwrap:
        pytest.skip("processes are only kept under bwrap")
    (kept,) = children(zygote_of(worker))
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


def test_a_zygote_at_its_process_limit_refuses_the_load_and_keeps_serving(fresh_pool, quick_retries):
    """Before: os.fork() raised EAGAIN in the zygote, which died mid-load ('sandbox worker lost')."""
    worker = _only_worker(fresh_pool)
    zygote = zygote_of(worker)
    with _pids_cgroup(zygote) as group:
        (group / "pids.max").write_text("1")  # the zygote itself, nothing more
        with pytest.raises(SandboxError) as refused, fresh_pool.session(GOOD + "# another", "filter"):
            pass
        expected = (
            "sandbox could not start the harness process: fork failed (Resource temporarily unavailable)"
        )
        assert str(refused.value) == f"{expected} (tried 2 times)"
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
        zygote = zygote_of(worker)
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


SLOW = GOOD + "\nimport time\ndef propose_action(obs):\n    time.sleep(2)\n    return 'late'\n"


def test_a_zygote_killed_during_a_call_says_how_and_is_not_blamed_on_a_harness_that_cannot_reach_it(
    fresh_pool,
):
    """Before: 'sandbox worker lost: process ended', a KILLED failure of the harness (e.g. the OOM killer
    picking the zygote)."""
    worker = _only_worker(fresh_pool)
    if not worker.isolation.bwrap:
        pytest.skip("without bwrap a harness process outlives its zygote: the call itself is unharmed")
    with fresh_pool.session(SLOW, "policy") as s:
        zygote = zygote_of(worker)
        threading.Timer(0.3, os.kill, (zygote, signal.SIGKILL)).start()
        how = "the sandbox process was killed by SIGKILL (it wrote nothing to stderr)"
        if worker.isolation.own_uid:  # the harness runs under another uid: it cannot have done it
            with pytest.raises(SandboxError) as lost:
                s.propose_action("x")
            message = str(lost.value)
            assert message == f"sandbox worker lost during propose_action, not by the harness's doing: {how}"
        else:
            failure = s.propose_action("x")
            assert isinstance(failure, HarnessFailure) and failure.kind is FailureKind.KILLED
            assert how in failure.message
    assert_pool_works(fresh_pool)
    assert worker.spawns == 2


def test_a_zygote_that_crashes_says_why_from_its_own_traceback(fresh_pool):
    """The zygote's stderr is /dev/null (harness code must not write there): its last words before exiting
    on an error of its own now reach the parent (here: a control frame it cannot decode)."""
    worker = _only_worker(fresh_pool)
    if not worker.isolation.bwrap:
        pytest.skip("without bwrap a harness process outlives its zygote: the call itself is unharmed")
    with fresh_pool.session(SLOW, "policy") as s:
        threading.Timer(0.3, worker._ctl.sock.send, (struct.pack(">I", 5) + b"nope!",)).start()
        with pytest.raises(SandboxError) as lost:
            s.propose_action("x")
    message = str(lost.value)
    assert message.startswith(
        "sandbox worker lost during propose_action, not by the harness's doing: "
        "the sandbox process exited with status 1: "
    )
    assert message.endswith("json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)")
    assert_pool_works(fresh_pool)


def test_a_harness_that_can_kill_its_zygote_is_blamed_and_told_how_it_ended():
    """Without a uid of its own (the rlimits-only fallback) a harness can signal the zygote: its failure,
    now saying so (before: 'sandbox worker lost: process ended')."""
    killer = (
        GOOD + "\nimport os, signal\ndef propose_action(obs):\n"
        "    os.kill(os.getppid(), signal.SIGKILL)\n    os._exit(3)\n"
    )
    forced = Isolation(None, os.geteuid() == 0, "forced by the test")
    with WorkerPool(1, limits=TEST_LIMITS, isolation=forced) as pool:
        with pool.session(killer, "policy") as s:
            failure = s.propose_action("x")
        assert isinstance(failure, HarnessFailure) and failure.kind is FailureKind.KILLED
        assert failure.message == (
            "sandbox worker lost during propose_action: the sandbox process was killed by SIGKILL "
            "(it wrote nothing to stderr) (harness code may signal it here)"
        )
        assert_pool_works(pool)


def test_a_zygote_that_died_between_sessions_is_replaced_saying_how(fresh_pool, caplog):
    """Before: replaced without a word (the next session only saw a fresh sandbox)."""
    worker = _only_worker(fresh_pool)
    os.kill(zygote_of(worker), signal.SIGSEGV)
    assert_pool_works(fresh_pool)
    assert worker.spawns == 2
    assert "sandbox worker replaced: the sandbox process was killed by SIGSEGV" in caplog.text


def test_a_zygote_that_crashes_before_a_load_is_replaced_and_the_harness_loads(fresh_pool, caplog):
    """Whether the crash is seen at the load (its socket never comes) or before it (found dead), the zygote
    is replaced, saying why in its own words, and the harness is not blamed: it loads in the fresh one."""
    worker = _only_worker(fresh_pool)
    worker._ctl.sock.send(struct.pack(">I", 5) + b"nope!")  # a control frame it cannot decode
    with fresh_pool.session(GOOD + "# another source\n", "filter") as s:
        assert s.load_failure is None and s.propose_action("ab") == "AB"
    assert worker.spawns == 2
    (said,) = [m for m in caplog.messages if "exited with status 1" in m]
    assert said.startswith(("sandbox worker replaced: ", "sandbox worker lost before the harness process"))
    assert "json.decoder.JSONDecodeError: Expecting value" in said
