"""Suite throughput and the harness library's savings, on real games with a scripted model endpoint.

No model API is reachable here, so the "LLM" is the loopback OpenAI-compatible server of the tests
(``tests/llm/fake_openai.py``) answering like a model would: a correct harness for Tic Tac Toe, Connect
Four, Nim and Tower of Hanoi (``tests/test_suite.py``), and for every other game a plausible but wrong one,
so the learner spends its whole iteration budget there. ``--latency`` adds a per-call delay like a
real endpoint's.

Measured:

1. speed-up of the local process pool, 2 workers vs 1, on the same suite (goal ≥ 1.8× on 2 cores); the
   fork server is started before the clock runs (both configurations fork their workers from it);
2. LLM calls saved by the harness library on game families (a fresh library vs ``--no-library``);
3. the same on the replayed games: every family whose base game ships a hand-answered transcript
   (``autoharness/data/transcripts``), no model at all — variants either reuse the family's harness at
   zero calls or fail for want of an LLM;
4. optional (``--ray``): the speed-up suite on a local single-node Ray cluster.

    .venv/bin/python benchmarks/bench_suite.py [--games ID,...] [--latency 0.5] [--ray] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests package: the scripted model

from tests.llm.fake_openai import FakeOpenAIServer
from tests.test_suite import SCRIPTED

from autoharness.envs import get_spec, list_games
from autoharness.executors import make_executor, map_unordered
from autoharness.learn.config import LearnConfig
from autoharness.suite import WORKER_PRELOAD, SuiteConfig, run_suite, select_games

WRONG = """import re


def propose_action(obs):
    found = re.findall(r"\\[[^\\[\\]\\n]{1,12}\\]", obs)
    return found[-1] if found else "[0]"


def is_legal_action(obs, action):
    return True
"""

SPEED_GAMES = (
    "TicTacToe-v0,ConnectFour-v0,Nim-v0,TowerOfHanoi-v0-extreme,"
    "Othello-v0,Checkers-v0,Breakthrough-v0,Chess-v0"
)
FAMILY_GAMES = (
    "ConnectFour-v0,ConnectFour-v0-large,ConnectFour-v0-blind,Nim-v0,Nim-v0-medium,Nim-v0-large,"
    "TowerOfHanoi-v0,TowerOfHanoi-v0-medium,TowerOfHanoi-v0-hard,TowerOfHanoi-v0-hardcore,TowerOfHanoi-v0-extreme"
)
LEARN = LearnConfig(n_envs=10, parallelism=1, max_iterations=4)


def scripted(latency: float):
    def reply(body: dict) -> str:
        time.sleep(latency)
        prompt = json.dumps(body["messages"])
        code = next((c for name, c in SCRIPTED.items() if name in prompt), WRONG)
        return f"```python\n{code}```\n"

    return reply


def run(
    games: list[str],
    *,
    executor: str = "local",
    workers: int = 2,
    llm: str | None = "fake-model",
    base_url: str | None = None,
    library: Path | None = None,
    out: Path,
) -> dict[str, Any]:
    """One suite; returns wall time, totals, and the paper's LLM calls for the games we reused."""
    config = SuiteConfig(
        games=games,
        learn=LEARN,
        llm=llm,
        base_url=base_url,
        eval_agent="policy",
        matches=4,
        library=str(library) if library else None,
    )
    ex = make_executor(executor, workers, preload=WORKER_PRELOAD)
    start = time.perf_counter()
    try:
        manifest = run_suite(out, ex, config=config)
    finally:
        ex.close()
    seconds = time.perf_counter() - start
    reused = [row for row in manifest.data["table"] if row["reused"]]
    return {
        "executor": executor,
        "workers": workers,
        "seconds": round(seconds, 2),
        **manifest.data["totals"],
        "reused_games": [row["game"] for row in reused],
        "paper_calls_of_reused": sum(row["paper_learning_steps"] for row in reused),
        "failed_games": [row["game"] for row in manifest.data["table"] if row["status"] == "failed"],
    }


def bundled_families() -> list[str]:
    """Every game of each family whose base game ships a recorded transcript in verifier mode."""
    directory = resources.files("autoharness").joinpath("data", "transcripts")
    suffix = "-verifier.jsonl"
    recorded = [p.name.removesuffix(suffix) for p in directory.iterdir() if p.name.endswith(suffix)]
    families = {get_spec(g).family for g in recorded if get_spec(g).id == g}
    return [g.id for g in list_games() if g.family in families]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", default=SPEED_GAMES, help="games for the speed-up measurement")
    parser.add_argument("--family-games", default=FAMILY_GAMES, help="games for the library measurement")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per scripted LLM call")
    parser.add_argument("--ray", action="store_true", help="also run the suite on a local Ray cluster")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.pop("OPENAI_API_KEY", None)  # replayed games must replay, not fall back to a live model
    results: dict[str, Any] = {"latency_s": args.latency, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(scripted(args.latency)) as server:
        root = Path(tmp)
        games = select_games(args.games)
        warm = make_executor("local", 1, preload=WORKER_PRELOAD)  # start the fork server outside the timing
        list(map_unordered(warm, abs, [("warm-up", -1)]))
        warm.close()
        url = server.base_url
        one = run(games, workers=1, base_url=url, out=root / "w1")
        two = run(games, workers=2, base_url=url, out=root / "w2")
        results["speed"] = {"games": games, "one_worker": one, "two_workers": two}
        results["speedup"] = round(one["seconds"] / two["seconds"], 2)
        family = select_games(args.family_games)
        without = run(family, base_url=url, out=root / "nolib")
        with_lib = run(family, base_url=url, library=root / "library", out=root / "lib")
        results["library"] = {
            "games": family,
            "without": without,
            "with": with_lib,
            "llm_calls_saved": without["llm_calls"] - with_lib["llm_calls"],
        }
        replayed = bundled_families()
        results["replayed"] = run(
            replayed, llm=None, library=root / "replayed-library", out=root / "replayed"
        )
        if args.ray:
            results["ray"] = run(games, executor="ray", base_url=url, out=root / "ray")
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{len(games)} games, scripted LLM latency {args.latency:g} s, {results['cpus']} CPUs")
    for r in (one, two, *([results["ray"]] if args.ray else [])):
        print(
            f"  {r['executor']:<5} {r['workers']} worker(s): {r['seconds']:7.2f} s  "
            f"{r['done']} done, {r['failed']} failed, {r['llm_calls']} LLM calls"
        )
    print(f"  speed-up 2 vs 1 workers: {results['speedup']:.2f}x (goal >= 1.8x)")
    lib = results["library"]
    print(
        f"library, scripted, {len(family)} games: {lib['without']['llm_calls']} LLM calls without, "
        f"{lib['with']['llm_calls']} with ({lib['with']['reused']} reused) -> {lib['llm_calls_saved']} saved"
    )
    rep = results["replayed"]
    print(
        f"library, replayed transcripts, {rep['games']} games of the recorded families: "
        f"{rep['llm_calls']} LLM calls, {rep['reused']} variants reused at 0 calls (the paper spent "
        f"{rep['paper_calls_of_reused']} learning them), failed: {', '.join(rep['failed_games']) or 'none'} "
        f"({rep['seconds']:.1f} s)"
    )


if __name__ == "__main__":
    main()
