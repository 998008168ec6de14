"""The ``rollout`` and ``doctor`` commands, and the rlimits-only fallback used where bwrap is missing."""

from __future__ import annotations

import contextlib
import json
import os
import platform

from autoharness.cli import main
from autoharness.sandbox import FailureKind, SandboxLimits, WorkerPool
from autoharness.sandbox.isolation import Isolation

from .conftest import GOOD, assert_pool_works

TTT = """
import re

def free(obs):
    return re.findall(r"\\b([0-8])\\b", obs.rsplit("Current Board", 1)[-1])

def propose_action(obs):
    return "[4]"

def is_legal_action(obs, action):
    return action.strip("[]") in free(obs)
"""


def test_rollout_command_reports_legal_rate_and_typed_failures(tmp_path, capsys):
    path = tmp_path / "h.py"
    path.write_text(TTT)
    assert main(["rollout", "TicTacToe-v0", "--harness", str(path), "--episodes", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["legal_rate"] == 0.5 and out["steps"] == 4 and len(out["episodes"]) == 2
    assert [f["verdict"] for f in out["failures"]] == ["proposer_wrong"] * 2
    assert out["failures"][0]["action"] == "[4]" and out["failures"][0]["env_reason"]


def test_rollout_command_text_output_and_code_failure(tmp_path, capsys):
    path = tmp_path / "h.py"
    path.write_text("import requests\ndef propose_action(obs):\n    return 1\n")
    assert main(["rollout", "TicTacToe-v0", "--harness", str(path), "--mode", "policy"]) == 0
    out = capsys.readouterr().out
    assert "static check: line 1: imports 'requests'" in out
    assert "code_failure" in out and "exception" in out and "legal_rate 0.0000" in out


def test_rollout_command_bad_input_is_one_line_exit_2(tmp_path, capsys):
    assert main(["rollout", "TicTacToe", "--harness", "x.py"]) == 2
    assert main(["rollout", "TicTacToe-v0", "--harness", str(tmp_path / "missing.py")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("autoharness: error:") for line in err)


def test_doctor_reports_protections(capsys):
    code = main(["doctor", "--json"])
    status = json.loads(capsys.readouterr().out)
    assert status["python"] == platform.python_version() and status["textarena"] == "0.7.4"
    assert status["environment_cleared"] is True and "RLIMIT_AS" in status["rlimits"]
    assert status["sysv_ipc"] == "blocked: Operation not permitted (seccomp)"
    assert code == (0 if status["isolation"] == "bwrap" else 1)


def test_rlimits_only_fallback_still_isolates_failures():
    forced = Isolation(None, os.geteuid() == 0, "forced by the test")
    with WorkerPool(1, limits=SandboxLimits(call_timeout=2.0), isolation=forced) as pool:
        assert_pool_works(pool)
        src = (
            GOOD + "\nimport os, time\ndef propose_action(obs):\n    if obs == 'die':\n        os._exit(1)\n"
        )
        src += "    time.sleep(60)\n"
        with pool.session(src, "policy") as s:
            assert s.propose_action("die").kind is FailureKind.KILLED
            assert s.propose_action("hang").kind is FailureKind.TIMEOUT
            assert s.is_legal_action("a", "A") is True
        assert_pool_works(pool)


def test_rlimits_only_fallback_gives_each_harness_its_own_tmp_and_refuses_ipc():
    forced = Isolation(None, os.geteuid() == 0, "forced by the test")
    src = GOOD + (
        "\nimport ctypes, os, tempfile\ndef propose_action(obs):\n"
        "    open(os.path.join(tempfile.gettempdir(), 'left'), 'w').write('x')\n"
        "    ok = ctypes.CDLL(None).shmget(0, 4096, 0o1600) >= 0\n"
        "    return f'{tempfile.gettempdir()} {sorted(os.listdir(tempfile.gettempdir()))} {ok}'\n"
    )
    with WorkerPool(1, limits=SandboxLimits(call_timeout=2.0), isolation=forced) as pool:
        with pool.session(src, "policy") as s:
            tmp, *rest = s.propose_action("").split(" ", 1)
        assert rest == ["['left'] False"] and tmp.startswith("/tmp/autoharness-")
        with pool.session(src + "# another\n", "policy") as s:
            assert s.propose_action("").split(" ", 1)[1] == "['left'] False"
        assert not os.path.exists(tmp)  # removed when its harness process ended


def test_rlimits_only_fallback_leaves_no_directory_and_survives_a_taken_name():
    """A harness that wrote nothing left its empty private directory behind (410 of them in /tmp here); with
    pids recurring, the zygote's next fixed name was taken, mkdir failed, and the zygote died mid-load (a
    flaky "sandbox worker lost: expected a session socket")."""
    forced = Isolation(None, os.geteuid() == 0, "forced by the test")
    src = GOOD + "\nimport tempfile\ndef propose_action(obs):\n    return tempfile.gettempdir()\n"
    with WorkerPool(1, limits=SandboxLimits(call_timeout=2.0), isolation=forced) as pool:
        seen = []
        for i in range(4):
            with pool.session(src + f"# {i}\n", "policy") as s:
                seen.append(s.propose_action(""))
                zygote = seen[-1].split("-")[1]
                for n in range(1, 6):  # the names the zygote used to take next, already taken
                    os.makedirs(f"/tmp/autoharness-{zygote}-{len(seen) + n}", exist_ok=True)
        assert len(set(seen)) == 4 and all(d.startswith(f"/tmp/autoharness-{zygote}-") for d in seen)
        assert not any(os.path.exists(d) for d in seen[:-1])  # each removed when the next harness loaded
        assert_pool_works(pool)
    assert not os.path.exists(seen[-1])  # and the last when the pool closed
    for n in range(1, 10):
        with contextlib.suppress(OSError):
            os.rmdir(f"/tmp/autoharness-{zygote}-{n}")
