"""Hostile harnesses: each ends in a typed failure, the pool keeps working, and nothing escapes."""

from __future__ import annotations

import os
import socket
import textwrap
import threading
import time
from pathlib import Path

import pytest

from autoharness.sandbox import FailureKind, HarnessFailure, SandboxLimits, WorkerPool, sandbox_status

from .conftest import GOOD, TEST_LIMITS, assert_pool_works

REPO = Path(__file__).resolve().parents[2]
BWRAP = sandbox_status()["isolation"] == "bwrap"
needs_bwrap = pytest.mark.skipif(not BWRAP, reason="file/network isolation needs bubblewrap")


def harness(body: str) -> str:
    """A harness whose propose_action runs ``body`` (``obs`` in scope); the checker is well-behaved."""
    return (
        "import os, sys, signal, threading, time, ctypes, builtins, socket\n"
        "def propose_action(obs):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\ndef is_legal_action(obs, action):\n    return True\n"
    )


def run(pool: WorkerPool, body: str, obs: str = "") -> str | HarnessFailure:
    with pool.session(harness(body), "policy") as s:
        assert s.load_failure is None
        return s.propose_action(obs)


def our_processes() -> set[int]:
    """Every live descendant of this test process (sandboxed processes included: pid namespaces nest), but
    not multiprocessing's fork server and resource tracker, which an earlier test may have left up."""
    parent = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            helper = b"from multiprocessing." in Path(f"/proc/{entry}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z" and not helper:
            parent[int(entry)] = int(fields[1])
    found, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - found
        found |= frontier
    return found


def assert_nothing_left(pool: WorkerPool) -> None:
    """Idle workers only: outer bwrap, its init, the zygote and at most one kept (idle) harness process."""
    assert len(our_processes()) <= 4 * pool.size


CASES = {
    "infinite_loop": ("while True:\n    pass", {FailureKind.TIMEOUT}),
    "memory_bomb": ("x = bytearray(8 << 30)\nreturn 'no'", {FailureKind.EXCEPTION}),
    "memory_creep": ("x = []\nwhile True:\n    x.append(bytearray(1 << 24))", {FailureKind.EXCEPTION}),
    "fork_bomb": ("while True:\n    os.fork()", {FailureKind.EXCEPTION}),  # RLIMIT_NPROC: fork fails
    "deep_recursion": ("def f(n):\n    return f(n + 1)\nreturn f(0)", {FailureKind.EXCEPTION}),
    "c_stack_overflow": (  # a million nested map objects: next() recurses in C, no recursion guard
        "x = iter([1])\nfor _ in range(10**6):\n    x = map(abs, x)\nreturn next(x)",
        {FailureKind.KILLED},
    ),
    "sys_exit": ("sys.exit(0)", {FailureKind.EXCEPTION}),
    "os_exit": ("os._exit(0)", {FailureKind.KILLED}),
    "kill_parent": (
        "os.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(5)",
        {FailureKind.EXCEPTION, FailureKind.KILLED},
    ),
    "kill_everything": (  # reaches nothing (its own uid, its own pid namespace): still sleeping at the limit
        "os.kill(-1, signal.SIGKILL)\ntime.sleep(5)",
        {FailureKind.TIMEOUT},
    ),
    "signal_tampering": (
        "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU, signal.SIGHUP):\n"
        "    signal.signal(s, signal.SIG_IGN)\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())\n"
        "while True:\n    pass",
        {FailureKind.TIMEOUT},
    ),
    "ctypes_segfault": ("ctypes.string_at(0)", {FailureKind.KILLED}),
    "fills_its_tmp": (
        "with open('/tmp/big', 'wb') as f:\n    f.write(b'x' * (48 << 20))",
        {FailureKind.EXCEPTION, FailureKind.KILLED},
    ),
    "huge_print": ("for _ in range(200):\n    print('x' * 100_000)\nreturn 'a'", {FailureKind.OVERSIZED}),
    "huge_return": ("return 'x' * 5_000_000", {FailureKind.OVERSIZED}),
    "str_subclass": ("class S(str):\n    pass\nreturn S('a')", {FailureKind.BAD_RETURN}),
    "non_plain_object": ("return {'move': 1}", {FailureKind.BAD_RETURN}),
    "fools_type_check": ("builtins.type = lambda x: str\nreturn 5", {FailureKind.BAD_RETURN}),
    "forges_protocol": (
        'import json\njson.dumps = lambda *a, **k: \'{"id": 1, "value": "forged"}\'\nreturn 5',
        {FailureKind.BAD_RETURN},
    ),
    "system_exit_in_finally": (
        "try:\n    raise KeyboardInterrupt\nfinally:\n    raise SystemExit(3)",
        {FailureKind.EXCEPTION},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_call_ends_in_typed_failure_and_pool_survives(pool, name):
    body, kinds = CASES[name]
    result = run(pool, body)
    assert isinstance(result, HarnessFailure), result
    assert result.kind in kinds, result.describe()
    assert result.function == "propose_action"
    assert_pool_works(pool)
    assert_nothing_left(pool)


def test_exception_traceback_points_at_harness_lines(pool):
    src = "def helper(x):\n    return x[5]\n\ndef propose_action(obs):\n    return helper(obs)\n"
    src += "def is_legal_action(obs, action):\n    return True\n"
    with pool.session(src, "policy") as s:
        failure = s.propose_action("abc")
    assert isinstance(failure, HarnessFailure) and failure.kind is FailureKind.EXCEPTION
    assert failure.line == 2 and "IndexError" in failure.message
    assert 'File "<harness>", line 5, in propose_action' in failure.traceback
    assert "return x[5]" in failure.traceback and "autoharness" not in failure.traceback


def test_deep_recursion_traceback_is_trimmed(pool):
    failure = run(pool, "def f(n):\n    return f(n + 1)\nreturn f(0)")
    assert isinstance(failure, HarnessFailure) and "RecursionError" in failure.message
    assert "frames omitted" in failure.traceback and len(failure.traceback) < 8001


@needs_bwrap
@pytest.mark.parametrize(
    "path",
    ["/etc/shadow", "/root/.ssh", str(REPO / "pyproject.toml"), str(REPO / ".venv"), "/proc/1/root/etc"],
)
def test_secret_and_project_files_are_invisible(pool, path):
    result = run(pool, "return str(os.listdir(obs) if os.path.isdir(obs) else open(obs).read())", path)
    assert isinstance(result, HarnessFailure) and result.kind is FailureKind.EXCEPTION, result
    assert "Error" in result.message


@needs_bwrap
def test_writes_and_deletes_outside_private_tmp_fail(pool, tmp_path):
    victim = REPO / "tests" / "sandbox" / f".victim-{os.getpid()}"
    victim.write_text("original")
    outside = tmp_path / "outside.txt"
    outside.write_text("original")
    try:
        for target in (victim, outside):
            for body in ("os.remove(obs)", "open(obs, 'w').write('owned')", "os.rename(obs, obs + '.x')"):
                result = run(pool, body + "\nreturn 'done'", str(target))
                assert isinstance(result, HarnessFailure) and result.kind is FailureKind.EXCEPTION, body
            assert target.read_text() == "original"
        # its own tmp works, and is private: the host's /tmp does not see it
        name = f"/tmp/sandbox-own-{os.getpid()}"
        assert run(pool, "open(obs, 'w').write('mine')\nreturn open(obs).read()", name) == "mine"
        assert not os.path.exists(name)
    finally:
        victim.unlink()


@needs_bwrap
def test_network_is_unreachable(pool):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        port = server.getsockname()[1]
        result = run(pool, f"s = socket.create_connection(('127.0.0.1', {port}), timeout=1)\nreturn 'in'")
        assert isinstance(result, HarnessFailure) and result.kind is FailureKind.EXCEPTION
        with pytest.raises(TimeoutError):
            server.accept()


def test_api_keys_in_our_environment_are_not_readable(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-1234567890")
    body = """
    seen = [repr(dict(os.environ))]
    for p in os.listdir('/proc'):
        try:
            seen.append(open(f'/proc/{p}/environ', 'rb').read().decode(errors='replace'))
        except OSError:
            pass
    return '\\n'.join(seen)
    """
    with WorkerPool(1, limits=TEST_LIMITS) as fresh:  # spawned now, with the key set in our environment
        result = run(fresh, body)
    assert isinstance(result, str) and "sk-canary" not in result and "OPENAI_API_KEY" not in result


@needs_bwrap
def test_harness_runs_unprivileged_in_its_own_pid_namespace(pool):
    result = run(pool, "return f'{os.getuid()} {len([p for p in os.listdir(\"/proc\") if p.isdigit()])}'")
    uid, visible = map(int, result.split())
    assert uid not in (0, os.getuid()) or os.getuid() != 0
    assert visible <= 4


def test_thread_outliving_a_call_does_not_leak_into_later_calls(pool):
    src = harness(
        """
    def spin():
        while True:
            sum(range(1000))
    threading.Thread(target=spin, daemon=True).start()
    return 'started'
    """
    )
    with pool.session(src, "policy") as s:
        assert s.propose_action("") == "started"
        assert s.is_legal_action("", "") is True  # its own later calls still answer
    assert_pool_works(pool)
    assert_nothing_left(pool)


def test_monkeypatching_builtins_does_not_fool_later_harnesses(pool):
    evil = """
import builtins, json, sys
builtins.len = lambda x: 0
builtins.isinstance = lambda *a: True
builtins.type = lambda *a: str
json.dumps = lambda *a, **k: '{"id": 1, "value": "forged"}'
sys.modules['os']._exit = lambda *a: None
def propose_action(obs):
    return 'evil'
def is_legal_action(obs, action):
    return True
"""
    with pool.session(evil, "policy") as s:
        assert s.propose_action("x") != "forged"
    for _ in range(2 * pool.size):  # whichever worker ran it, later harnesses see pristine builtins
        assert_pool_works(pool)


def test_load_failures_are_typed(pool):
    cases = {
        "def propose_action(obs):\n    return (\n": (FailureKind.SYNTAX_ERROR, 2),
        "def propose_action(obs):\n    return ''\n": (FailureKind.MISSING_FUNCTION, None),
        "def propose_action():\n    return ''\ndef is_legal_action(o, a):\n    return True\n": (
            FailureKind.MISSING_FUNCTION,
            None,
        ),
        "x = 1\nraise ValueError('at import')\n": (FailureKind.EXCEPTION, 2),
        "import requests\n": (FailureKind.EXCEPTION, 1),
    }
    for src, (kind, line) in cases.items():
        with pool.session(src, "verifier") as s:
            assert s.load_failure is not None and s.load_failure.kind is kind, src
            assert s.load_failure.line == line
            assert s.propose_action("x") == s.load_failure  # every call reports the load failure


def test_session_recovers_after_a_fatal_failure(pool):
    src = harness("if obs == 'die':\n    os._exit(1)\nif obs == 'hang':\n    time.sleep(60)\nreturn obs * 2")
    with pool.session(src, "policy") as s:
        assert s.propose_action("ab") == "abab"
        assert s.propose_action("die").kind is FailureKind.KILLED
        assert s.propose_action("cd") == "cdcd"  # reloaded transparently
        assert s.propose_action("hang").kind is FailureKind.TIMEOUT
        assert s.propose_action("ef") == "efef"  # worker respawned transparently


def test_each_session_starts_from_a_fresh_namespace(pool):
    src = harness("global calls\ncalls += 1\nreturn f'{os.getpid()} {calls}'").replace(
        "import os,", "calls = 0\nimport os,"
    )
    seen = []
    for source in (src, src, src + "# another harness\n"):
        with pool.session(source, "policy") as s:
            seen.append(s.propose_action("").split())
            assert s.propose_action("").split()[1] == "2"  # state lives for the session
    assert [calls for _, calls in seen] == ["1", "1", "1"]
    # the same harness may reuse its own process; another harness never does
    assert seen[2][0] != seen[1][0]


def test_pool_is_thread_safe_and_a_thread_may_hold_more_sessions_than_workers(pool):
    src = harness("return obs[::-1]")
    errors = []

    def work(i: int) -> None:
        for j in range(5):
            with pool.session(src if j % 2 else GOOD, "policy") as s:
                want = f"{i}-{j}"[::-1] if j % 2 else f"{i}-{j}".upper()
                got = s.propose_action(f"{i}-{j}")
                if got != want:
                    errors.append((i, j, got))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with (
        pool.session(src, "policy") as a,
        pool.session(GOOD, "policy") as b,
        pool.session(src, "policy") as c,
    ):
        assert (a.propose_action("ab"), b.propose_action("ab"), c.propose_action("xy")) == ("ba", "AB", "yx")
    assert_nothing_left(pool)


def test_public_names():
    import autoharness.sandbox as sandbox

    assert set(sandbox.__all__) >= {"WorkerPool", "HarnessSession", "check_source", "sandbox_status", "Mode"}
    assert all(hasattr(sandbox, name) for name in sandbox.__all__)


def test_a_harness_process_that_will_not_exit_does_not_cost_the_next_session(pool):
    src = harness(
        "import _thread\n_thread.start_new_thread(lambda: [None for _ in iter(int, 1)], ())\nreturn 'x'"
    )
    with pool.session(src, "policy") as s:  # its thread hogs the process; it is not kept after the session
        assert s.propose_action("") == "x"
    assert_pool_works(pool)


def test_workers_outlive_the_thread_that_started_them():
    with WorkerPool(1, limits=TEST_LIMITS) as fresh:
        starter = threading.Thread(target=assert_pool_works, args=(fresh,))
        starter.start()
        starter.join()  # bwrap's die-with-parent is per thread: the worker must not die with this one
        with fresh.session(GOOD, "policy") as s:
            assert s.propose_action("ok") == "OK"
        assert fresh._all[0].spawns == 1


def test_a_checker_that_hangs_during_verify_is_not_blamed_on_the_proposer(pool):
    from autoharness.sandbox.pool import VERIFY_FUNCTIONS

    hanging_checker = (
        "def propose_action(obs):\n    return '[1]'\n\n"
        "def is_legal_action(obs, action):\n    while True:\n        pass\n"
    )
    with pool.session(hanging_checker, "verifier") as s:
        proposal = s.verify("obs")
    assert proposal.failure is not None and proposal.failure.kind is FailureKind.TIMEOUT
    assert proposal.failure.function == VERIFY_FUNCTIONS  # the critic then refines both functions
    assert_pool_works(pool)


# --- round 2 (issue 11): what got through before ----------------------------------------------------------

SHM_FILL = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
ident = libc.shmget(0, 150 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600: 150 MB outside RLIMIT_AS
if ident < 0:
    return 'refused: ' + os.strerror(ctypes.get_errno())
addr = libc.shmat(ident, None, 0)
ctypes.memset(addr, 1, 150 << 20)
libc.shmdt(ctypes.c_void_p(addr))
return 'parked 150 MB'
"""


def test_sysv_ipc_is_refused_and_nothing_carries_over_to_the_next_harness():
    with WorkerPool(1, limits=TEST_LIMITS) as fresh:  # one worker: both harnesses run in the same zygote
        assert run(fresh, SHM_FILL) == "refused: Operation not permitted"
        seen = run(fresh, "return open('/proc/sysvipc/shm').read() + open('/proc/sysvipc/sem').read()")
        assert isinstance(seen, str) and len(seen.splitlines()) == 2  # the two header lines: no objects
    assert sandbox_status()["sysv_ipc"].startswith("blocked")


def test_a_frame_that_would_crash_the_decoder_is_a_typed_failure_in_a_real_rollout(pool):
    from autoharness.envs import make
    from autoharness.rollout import StepVerdict, play_rollout

    # harness code replaces the worker's own encoder: its reply is 100,000 nested "["
    body = "sys.modules['__main__']._dumps = lambda obj: '[' * 100_000\nreturn '[4]'"
    with pool.session(harness(body), "policy") as s:
        r = play_rollout(make("TicTacToe-v0"), s, "policy", 0)
    step = r.steps[0]
    assert step.verdict is StepVerdict.CODE_FAILURE and step.failure.kind is FailureKind.KILLED
    assert "malformed frame" in step.failure.message
    assert_pool_works(pool)


def test_an_overlong_action_is_oversized_before_the_game_parses_it(pool):
    import time

    from autoharness.envs import make
    from autoharness.rollout import StepVerdict, play_rollout
    from autoharness.sandbox.contract import MAX_ACTION_CHARS, MAX_LISTED_ACTIONS

    padded = "return '[3]' + ' ' * 30_000"
    env = make("ConnectFour-v0")
    with pool.session(harness(padded), "policy") as s:
        start = time.process_time()
        r = play_rollout(env, s, "policy", 0)
        assert time.process_time() - start < 1.0  # the game's regex never saw 30,000 characters
    step = r.steps[0]
    assert step.verdict is StepVerdict.CODE_FAILURE and step.failure.kind is FailureKind.OVERSIZED
    assert step.action is None and f"limit {MAX_ACTION_CHARS}" in step.failure.message
    assert run(pool, f"return 'x' * {MAX_ACTION_CHARS}") == "x" * MAX_ACTION_CHARS  # the cap itself is fine
    lists = {
        f"return ['[1]'] * {MAX_LISTED_ACTIONS + 1}": f"limit {MAX_LISTED_ACTIONS}",
        f"return ['[1]', 'y' * {MAX_ACTION_CHARS + 1}]": f"over {MAX_ACTION_CHARS} characters",
    }
    for body, said in lists.items():
        src = harness("return '[1]'") + "def legal_actions(obs):\n" + textwrap.indent(body, "    ") + "\n"
        with pool.session(src, "filter") as s:
            failure = s.legal_actions("")
        assert isinstance(failure, HarnessFailure) and failure.kind is FailureKind.OVERSIZED
        assert said in failure.message


BURN = "t = time.process_time()\nwhile time.process_time() - t < float(obs):\n    pass\nreturn 'done'"


def test_cpu_budget_is_per_call_not_per_session():
    # Scaled down from the report (0.3 s per call over 1,500 calls against a 300 s lifetime cap): 0.15 s per
    # call over 12 calls against a 1 s budget. A lifetime cap would kill it at about the 7th call.
    limits = SandboxLimits(call_timeout=10.0, load_timeout=10.0, memory_mb=512, cpu_seconds=1)
    with WorkerPool(1, limits=limits) as fresh, fresh.session(harness(BURN), "policy") as s:
        assert [s.propose_action("0.15") for _ in range(12)] == ["done"] * 12
        over = s.propose_action("5")  # one call over its own budget is still stopped
        assert isinstance(over, HarnessFailure) and over.kind is FailureKind.KILLED
        assert "SIGXCPU" in over.message and "one call" in over.message
        assert s.propose_action("0") == "done"  # and the session goes on in a fresh process


def test_a_kept_process_runs_nothing_between_sessions():
    body = """
    if obs == 'arm':  # a timer whose handler runs harness code whenever it fires, session or not
        builtins.TICKS = []
        signal.signal(signal.SIGALRM, lambda *_: builtins.TICKS.append(time.monotonic()))
        signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
    return f'{os.getpid()} ' + ' '.join(map(str, builtins.TICKS))
    """
    with WorkerPool(1, limits=TEST_LIMITS) as fresh:
        with fresh.session(harness(body), "policy") as s:
            pid = s.propose_action("arm").split()[0]
        closed = time.monotonic()
        time.sleep(0.5)  # a live process would run its handler ~50 times here
        opened = time.monotonic()
        with fresh.session(harness(body), "policy") as s:
            again, *ticks = s.propose_action("").split()
    assert again == pid  # the same process was reused...
    assert not [t for t in map(float, ticks) if closed < t < opened]  # ...and ran nothing while kept


def test_each_harness_process_gets_an_empty_private_tmp():
    # files of 15 MB (RLIMIT_FSIZE 16 MB): A fills 60 of the 64 MB tmpfs and leaves a secret in it
    leave = "open('/tmp/secret', 'w').write('from A')\nfor i in range(4):\n"
    leave += "    open(f'/tmp/fill{i}', 'wb').write(b'x' * (15 << 20))\n"
    with WorkerPool(1, limits=TEST_LIMITS) as fresh:
        assert run(fresh, leave + "return str(len(os.listdir('/tmp')))") == "5"
        after = "for i in range(2):\n    open(f'/tmp/mine{i}', 'wb').write(b'y' * (15 << 20))\n"
        after += "return str(sorted(os.listdir('/tmp')))"
        assert run(fresh, after) == "['mine0', 'mine1']"  # B neither sees A's files nor lacks A's space


def test_the_worker_command_line_is_short():
    with WorkerPool(1, limits=TEST_LIMITS) as fresh:
        assert_pool_works(fresh)
        lines = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in our_processes()]
    assert lines and all(len(line) < 4000 and b"def " not in line for line in lines)


def test_a_huge_legal_actions_list_is_refused_before_any_probing(pool):
    from autoharness.envs import make
    from autoharness.rollout import StepVerdict, play_rollout

    src = harness("return '[4]'") + "def legal_actions(obs):\n    return [f'[{i}]' for i in range(100_000)]\n"
    env = make("TicTacToe-v0")
    with pool.session(src, "filter") as s:
        start = time.process_time()
        r = play_rollout(env, s, "filter", 0)
        spent = time.process_time() - start
    assert spent < 1.0, spent  # was 38 s: every entry probed on a clone
    step = r.steps[0]
    assert step.verdict is StepVerdict.CODE_FAILURE and step.failure.kind is FailureKind.OVERSIZED
    assert "100000 actions (limit 1000)" in step.failure.message
