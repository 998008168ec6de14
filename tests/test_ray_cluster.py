"""A real two-node Ray cluster on this machine runs a suite, and its games run on both nodes.

``ray start --head`` and a second ``ray start --address ...`` each offer one CPU and a custom resource of
their own (so the cluster is seen to have two distinct nodes); a suite task takes one CPU, so the suite's
two families, submitted together, cannot both run on one node. Each node's processes get their own
``OPENAI_BASE_URL``, pointing at a scripted endpoint of its own: which endpoint a game's LLM calls reached
is where the game ran. Every process the test starts is stopped by its process group (never ``ray stop``,
which would stop every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoharness.executors import make_executor
from autoharness.suite import SuiteConfig, run_suite, select_games
from tests.llm.fake_openai import FakeOpenAIServer
from tests.test_suite import LEARN, scripted_reply

OPT_IN = "AUTOHARNESS_TEST_RAY_CLUSTER"
pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra"),
    # Opt-in: 1.5-3 min, and on a heavily loaded machine a raylet may miss Ray's registration deadline.
    pytest.mark.skipif(
        os.environ.get(OPT_IN) != "1", reason=f"starts a two-node Ray cluster: set {OPT_IN}=1"
    ),
]

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``ray start ... --block`` in a process group of its own (everything it starts stays in it)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [RAY, "start", "--block", "--disable-usage-stats", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(procs: list[subprocess.Popen[bytes]], marker: str) -> None:
    """SIGTERM then SIGKILL each node's process group, then any process that still names our temp dir."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.2)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and int(pid) != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


@pytest.fixture
def two_nodes(tmp_path_factory) -> Iterator[tuple[str, FakeOpenAIServer, FakeOpenAIServer]]:
    temp = Path(f"/tmp/ahray-{os.getpid()}")  # short: Ray's socket paths must stay under 108 bytes
    logs = tmp_path_factory.mktemp("ray-logs")
    port = free_port()
    address = f"127.0.0.1:{port}"

    def slow(body: dict) -> str:
        time.sleep(1.0)  # long enough for both games to be running at once
        return scripted_reply(body)

    procs: list[subprocess.Popen[bytes]] = []
    with FakeOpenAIServer(slow) as head_llm, FakeOpenAIServer(slow) as worker_llm:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "OPENAI_"))}
        base |= {"OPENAI_API_KEY": "sk-test", "RAY_AUTH_MODE": "disabled"}  # a loopback cluster: no token
        base["RAY_raylet_start_wait_time_s"] = "120"  # registration is slow on 2 busy cores (default 30 s)
        try:
            procs.append(
                start_node(
                    [
                        "--head",
                        f"--port={port}",
                        f"--temp-dir={temp}",
                        "--include-dashboard=false",
                        "--num-cpus=1",
                        '--resources={"autoharness_head": 1}',
                    ],
                    base | {"OPENAI_BASE_URL": head_llm.base_url},
                    logs / "head.log",
                )
            )
            wait_for(lambda: _started(logs / "head.log"), 120, "the head node", logs / "head.log")
            procs.append(
                start_node(
                    [
                        f"--address={address}",
                        "--num-cpus=1",
                        '--resources={"autoharness_worker": 1}',
                    ],
                    base | {"OPENAI_BASE_URL": worker_llm.base_url},
                    logs / "worker.log",
                )
            )
            wait_for(lambda: _started(logs / "worker.log"), 120, "the second node", logs / "worker.log")
            yield address, head_llm, worker_llm
        finally:
            stop(procs, str(temp))
            shutil.rmtree(temp, ignore_errors=True)


def _started(log: Path) -> bool:
    """``ray start`` says so once its node (GCS, raylet) is up and registered."""
    return "Ray runtime started" in log.read_text(errors="replace")


def wait_for(ready, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up in {seconds} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def test_a_suites_games_run_on_both_nodes_of_a_two_node_cluster(two_nodes, tmp_path, monkeypatch):
    address, head_llm, worker_llm = two_nodes
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    executor = make_executor("ray", 2, address)
    try:
        import ray

        wait_for(
            lambda: {"autoharness_head", "autoharness_worker"} <= set(ray.cluster_resources()),
            60,
            "the second node",
            tmp_path.parent / "ray-logs0" / "worker.log",
        )
        assert ray.cluster_resources()["CPU"] == 2 and len([n for n in ray.nodes() if n["Alive"]]) == 2
        config = SuiteConfig(
            games=select_games("TicTacToe-v0,ConnectFour-v0"),
            learn=LEARN,
            llm="fake-model",
            eval_agent="policy",
            matches=2,
            library=str(tmp_path / "library"),
        )
        manifest = run_suite(tmp_path / "suite", executor, config=config)
    finally:
        executor.close()
    assert {g: r["status"] for g, r in manifest.games.items()} == {
        "TicTacToe-v0": "done",
        "ConnectFour-v0": "done",
    }
    # Each game asked the endpoint of the node it ran on; one game ran on each node.
    asked = {
        name: {
            game
            for game, words in (("TicTacToe-v0", "Tic Tac Toe"), ("ConnectFour-v0", "Connect Four"))
            if any(words in str(r["messages"]) for r in server.requests)
        }
        for name, server in (("head", head_llm), ("worker", worker_llm))
    }
    assert sorted(map(len, asked.values())) == [1, 1] and asked["head"] | asked["worker"] == {
        "TicTacToe-v0",
        "ConnectFour-v0",
    }
