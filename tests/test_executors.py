"""Executors: tasks run in other processes, failures come back as data, real games give the same result."""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from autoharness.envs import make
from autoharness.errors import ConfigError
from autoharness.executors import (
    LocalExecutor,
    Outcome,
    TaskErrorKind,
    make_executor,
    map_unordered,
)
from tests.processes import children

CANDIDATES = [f"[{i}]" for i in range(10)]


def play_first_legal(item: tuple[str, int]) -> list[tuple[int, str, bool]]:
    """Play a real game to the end, each turn the first candidate a clone accepts: (player, obs tail, ok)."""
    game, seed = item
    env = make(game)
    turn = env.reset(seed)
    trace = []
    while True:
        action = next(a for a in CANDIDATES if env.clone().step(a).legal)
        result = env.step(action)
        trace.append((turn.player, turn.observation[-60:], result.legal))
        if result.done:
            return [*trace, (-1, repr(result.rewards), True)]
        assert result.next is not None
        turn = result.next


def by_key(outcomes: list[Outcome]) -> dict[str, Outcome]:
    return {o.key: o for o in outcomes}


@pytest.fixture(scope="module")
def pool():
    executor = LocalExecutor(2)
    yield executor
    executor.close()


def test_values_come_back_keyed_and_parallel(pool):
    outcomes = by_key(list(map_unordered(pool, math.factorial, [(f"f{n}", n) for n in range(8)])))
    assert {k: o.value for k, o in outcomes.items()} == {f"f{n}": math.factorial(n) for n in range(8)}
    assert all(o.ok for o in outcomes.values())
    # Two workers really are two processes besides this one.
    pids = {o.value for o in map_unordered(pool, _sleep_then_pid, [("a", 0.5), ("b", 0.5)])}
    assert len(pids) == 2 and os.getpid() not in pids


def _sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_exception_is_recorded_and_others_finish(pool):
    outcomes = by_key(list(map_unordered(pool, int, [("good", "12"), ("bad", "twelve"), ("good2", "7")])))
    assert outcomes["good"].value == 12 and outcomes["good2"].value == 7
    bad = outcomes["bad"]
    assert not bad.ok and bad.error.kind is TaskErrorKind.EXCEPTION
    assert bad.error.type == "ValueError" and "twelve" in bad.error.message
    assert "Traceback" in bad.error.traceback


def test_deadline_stops_a_task(pool):
    start = time.perf_counter()
    outcomes = by_key(list(map_unordered(pool, time.sleep, [("slow", 30), ("quick", 0)], timeout=0.5)))
    assert time.perf_counter() - start < 10
    assert outcomes["slow"].error.kind is TaskErrorKind.TIMEOUT
    assert outcomes["quick"].ok


def test_dead_worker_is_named_and_bystanders_complete():
    executor = LocalExecutor(2)
    try:
        items = [("sleep1", 1.0), ("crash", 7), ("sleep2", 0.2), ("sleep3", 0.2)]
        fns = {"crash": os._exit}
        for key, arg in items:
            executor.submit(key, fns.get(key, time.sleep), arg)
        outcomes = by_key([executor.next_outcome() for _ in items])
        assert executor.pending() == 0
    finally:
        executor.close()
    assert outcomes["crash"].error.kind is TaskErrorKind.WORKER_DIED
    assert all(outcomes[k].ok for k in ("sleep1", "sleep2", "sleep3"))
    # The pool was rebuilt: it still runs work.
    assert [o.value for o in map_unordered(executor, abs, [("x", -3)])] == [3]
    executor.close()


def test_real_games_in_workers_match_in_process(pool):
    items = [(f"{g}:{s}", (g, s)) for g in ("TicTacToe-v0", "ConnectFour-v0") for s in (1, 2)]
    outcomes = by_key(list(map_unordered(pool, play_first_legal, items)))
    for key, item in items:
        assert outcomes[key].ok, outcomes[key].error
        assert outcomes[key].value == play_first_legal(item)
    assert outcomes["TicTacToe-v0:1"].value[-1][0] == -1  # played to the end


def test_bad_executor_input_is_a_usage_error():
    with pytest.raises(ConfigError, match="at least 1"):
        LocalExecutor(0)
    with pytest.raises(ConfigError, match="unknown executor"):
        make_executor("threads")
    with pytest.raises(ConfigError, match="--address"):
        make_executor("local", 1, "127.0.0.1:6379")


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra")
def test_ray_single_node_runs_tasks_and_survives_a_dead_worker():
    executor = make_executor("ray", 2)
    try:
        items = [("f5", 5), ("f6", 6)]
        outcomes = by_key(list(map_unordered(executor, math.factorial, items)))
        assert outcomes["f5"].value == 120 and outcomes["f6"].value == 720
        bad = by_key(list(map_unordered(executor, int, [("bad", "x")])))["bad"]
        assert bad.error.kind is TaskErrorKind.EXCEPTION and bad.error.type == "ValueError"
        slow = by_key(list(map_unordered(executor, time.sleep, [("slow", 30)], timeout=0.5)))["slow"]
        assert slow.error.kind is TaskErrorKind.TIMEOUT
        executor.submit("crash", os._exit, 3)
        executor.submit("fine", abs, -2)
        outcomes = by_key([executor.next_outcome(), executor.next_outcome()])
        assert outcomes["crash"].error.kind is TaskErrorKind.WORKER_DIED
        assert outcomes["fine"].value == 2
    finally:
        executor.close()


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra")
def test_ray_address_nobody_listens_on_fails_fast():
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"cannot reach a Ray cluster at 127\.0\.0\.1:1"):
        make_executor("ray", 1, "127.0.0.1:1")
    assert time.perf_counter() - start < 10


def test_workers_see_the_owners_environment_as_it_is_now_not_as_the_fork_server_started(monkeypatch):
    """The fork server starts once per process: a variable set later (a test's or a user's
    ``$AUTOHARNESS_BUILTIN_DIR``) never reached the workers, which then used the shipped harnesses."""
    monkeypatch.setenv("AUTOHARNESS_TEST_OLD", "1")
    first = LocalExecutor(1)
    try:
        assert [o.value for o in map_unordered(first, os.getenv, [("a", "AUTOHARNESS_TEST_OLD")])] == ["1"]
    finally:
        first.close()  # the fork server stays up, with the environment above
    monkeypatch.setenv("AUTOHARNESS_TEST_NEW", "2")
    monkeypatch.delenv("AUTOHARNESS_TEST_OLD")
    second = LocalExecutor(1)
    try:
        names = [("new", "AUTOHARNESS_TEST_NEW"), ("old", "AUTOHARNESS_TEST_OLD")]
        seen = {o.key: o.value for o in map_unordered(second, os.getenv, names)}
    finally:
        second.close()
    assert seen == {"new": "2", "old": None}


_OWNER = """
import sys
from autoharness.cli import sigterm_interrupts
from autoharness.executors import LocalExecutor

executor = LocalExecutor(2, preload=("textarena",))
try:
    with sigterm_interrupts():
        executor.submit("a", abs, -1)
        print(executor.next_outcome().value)
except KeyboardInterrupt as exc:
    print(f"interrupted by {type(exc).__name__}", file=sys.stderr)
finally:
    executor.close()
"""


def test_sigterm_while_the_first_worker_is_launched_stops_it_too():
    """SIGTERM while the owner waited for the fork server (still importing ``preload``) to fork the first
    worker: the worker was forked anyway, known to nobody, and once the owner had exited it died on the
    pool's vanished semaphores with a traceback (FileNotFoundError in SemLock._rebuild) after
    'interrupted'."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _OWNER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    server = None
    deadline = time.monotonic() + 60
    while server is None and time.monotonic() < deadline and proc.poll() is None:
        for kid in children(proc.pid):
            with contextlib.suppress(OSError), open(f"/proc/{kid}/cmdline", "rb") as f:
                server = kid if b"forkserver" in f.read() else None
        time.sleep(0.002)
    assert server is not None, "the fork server never started"
    proc.send_signal(signal.SIGTERM)  # the owner now waits for the server's first fork
    out, err = proc.communicate(timeout=60)
    assert (out, err) == ("", "interrupted by Terminated\n")
    for _ in range(500):  # the fork server exits with its owner; it has no worker left to wait for
        if not os.path.exists(f"/proc/{server}"):
            break
        time.sleep(0.01)
    assert not os.path.exists(f"/proc/{server}")
