"""Each limit of the sandbox actually hit, with its own value: the load and call timeouts (timed), RLIMIT_CPU,
RLIMIT_NOFILE, RLIMIT_FSIZE.

The limits here are small and far apart (a call may take 0.5 s, a load 3 s) so that a limit swapped for
another one, or not set at all, changes the outcome or the time taken, not only a message.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from autoharness.sandbox import FailureKind, HarnessFailure, SandboxLimits, WorkerPool

from .test_hostile import harness

LIMITS = SandboxLimits(call_timeout=0.5, load_timeout=3.0, memory_mb=512, open_files=32, file_mb=4)
SLACK = 2.0
"""Seconds a timeout may take beyond its limit on a loaded 2-core machine (killing the worker included)."""


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(1, limits=LIMITS) as p:
        yield p


def timed(fn, *args):
    start = time.monotonic()
    result = fn(*args)
    return result, time.monotonic() - start


def test_a_hanging_call_is_stopped_at_the_call_timeout_not_the_load_timeout(pool):
    with pool.session(harness("time.sleep(float(obs))\nreturn 'woke'"), "policy") as s:
        assert s.load_failure is None
        assert s.propose_action("0.1") == "woke"
        failure, seconds = timed(s.propose_action, "60")
        assert isinstance(failure, HarnessFailure) and failure.kind is FailureKind.TIMEOUT
        assert failure.message == "propose_action ran over the 0.5 s limit"
        assert LIMITS.call_timeout <= seconds < LIMITS.call_timeout + SLACK < LIMITS.load_timeout
        assert s.propose_action("0.1") == "woke"  # a fresh process took over


def test_a_slow_load_gets_the_load_timeout_and_a_hanging_one_is_stopped_there(pool):
    slow = "import time\ntime.sleep(1.5)\n" + harness("return 'loaded'")  # longer than a call may take
    with pool.session(slow, "policy") as s:
        assert s.load_failure is None and s.propose_action("") == "loaded"
    hanging = "import time\ntime.sleep(60)\n" + harness("return 'never'")
    (session, seconds) = timed(pool.session(hanging, "policy").__enter__)
    try:
        failure = session.load_failure
        assert failure is not None and failure.kind is FailureKind.TIMEOUT
        assert failure.message == "loading the harness ran over the 3 s limit" and failure.function is None
        assert LIMITS.load_timeout <= seconds < LIMITS.load_timeout + SLACK
    finally:
        session.close()


def test_rlimit_cpu_kills_a_call_that_burns_more_cpu_than_allowed():
    limits = SandboxLimits(call_timeout=20.0, load_timeout=20.0, memory_mb=512, cpu_seconds=1)
    burn = "t = time.process_time()\nwhile time.process_time() - t < float(obs):\n    pass\nreturn 'done'"
    with WorkerPool(1, limits=limits) as fresh, fresh.session(harness(burn), "policy") as s:
        assert s.propose_action("0.2") == "done"
        # Killed by the kernel for CPU time (SIGXCPU), not by the wall clock: on a loaded machine 1 s of CPU
        # may take several seconds of wall time, so the time taken proves nothing here; the signal does.
        failure = s.propose_action("3")
        assert isinstance(failure, HarnessFailure) and failure.kind is FailureKind.KILLED
        assert "SIGXCPU" in failure.message and failure.function == "propose_action"
        assert s.propose_action("0.2") == "done"


def test_rlimit_nofile_stops_opening_files_at_the_limit(pool):
    body = """
    fds = []
    try:
        while len(fds) < 10_000:
            fds.extend(os.pipe())
    except OSError as exc:
        return f'{len(fds)} {exc.strerror}'
    return f'{len(fds)} opened'
    """
    with pool.session(harness(body), "policy") as s:
        count, _, error = s.propose_action("").partition(" ")
    assert error == "Too many open files"
    assert LIMITS.open_files - 16 <= int(count) < LIMITS.open_files  # a few descriptors were open already


def test_rlimit_fsize_stops_a_file_at_the_limit(pool):
    body = """
    f = open('/tmp/big', 'wb', buffering=0)
    try:
        for _ in range(64):
            f.write(b'x' * (1 << 20))
    except OSError as exc:
        return f'{os.path.getsize("/tmp/big")} {exc.strerror}'
    return 'wrote 64 MB'
    """
    with pool.session(harness(body), "policy") as s:
        assert s.propose_action("") == f"{LIMITS.file_mb << 20} File too large"


def test_harnesses_run_under_a_finite_hard_cpu_limit_given_by_the_caller():
    """Run under ``ulimit -Ht`` (a batch scheduler, or mutmut, which gives each mutant's tests a finite hard
    CPU limit): harness processes asked for an unlimited hard limit, which only root may raise, and every
    one died at start-up ("tampered with the interpreter"). They now stay under the limit they were given."""
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (300, 300))\n"
        "from autoharness.sandbox import WorkerPool\n"
        "source = 'def propose_action(obs):\\n    return \"ok \" + obs\\n'\n"
        "source += 'def is_legal_action(obs, action):\\n    return True\\n'\n"
        "with WorkerPool(1) as pool, pool.session(source, 'policy') as s:\n"
        "    print(s.load_failure, s.propose_action('1'), s.propose_action('2'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None ok 1 ok 2"
