"""Learning-loop figures on real games: replay wall time, evaluator throughput, what oracle probing changes.

No model API is reachable here. Replies come from recorded transcripts: the ones bundled in
``src/autoharness/data/transcripts`` (answered by hand through the manual backend), and scripted scenarios
recorded on the spot from the harnesses in ``tests/learn/tictactoe.py``.

Measured:

1. wall time of ``autoharness learn TicTacToe-v0 --llm replay:FILE`` in a fresh process, default config
   (10 rollouts, 2 workers) — goal < 10 s;
2. evaluator throughput (steps/s over the 10 training rollouts, sandboxed workers) with probing off and on,
   beside the raw env step rate;
3. oracle probing: iterations to H = 1.0 with and without probing on the same replies, and what the
   harness the no-probe run stops with gets wrong (probed actions judged wrongly). For bundled transcripts
   (which can only be replayed with the probing setting they were recorded with) the no-probe figure is
   the counterfactual on the recorded tree: the first node whose legal-step rate alone is 1.0.

    .venv/bin/python benchmarks/bench_learn.py [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests package: the scripted harness replies

from tests.fakes import ScriptedLLM  # noqa: E402
from tests.learn import tictactoe as ttt  # noqa: E402

from autoharness.envs import make  # noqa: E402
from autoharness.learn.config import LearnConfig  # noqa: E402
from autoharness.learn.evaluator import Evaluator  # noqa: E402
from autoharness.learn.loop import LLM_CACHE, learn  # noqa: E402
from autoharness.learn.refiner import child_code  # noqa: E402
from autoharness.learn.store import RunStore  # noqa: E402
from autoharness.llm import MeteredClient, ResponseCache, export_transcript  # noqa: E402
from autoharness.sandbox import WorkerPool  # noqa: E402

GOAL_REPLAY_SECONDS = 10.0
SCENARIOS = {
    "verifier: lax checker → correct": ("verifier", [ttt.LAX, ttt.GOOD]),
    "verifier: stuck proposer → fixed (proposer only)": ("verifier", [ttt.STUCK_PROPOSER, ttt.GOOD]),
    "verifier: over-strict checker → correct": ("verifier", [ttt.STRICT, ttt.GOOD]),
    "filter: short list → exact list": ("filter", [ttt.FILTER_SHORT, ttt.FILTER_GOOD]),
}


def record(tmp: Path, name: str, mode: str, replies: list[str], probe: bool) -> tuple[Path, Any]:
    """Run a scripted scenario through a cache, export it as a transcript; (transcript, result)."""
    run_dir = tmp / (re.sub(r"\W+", "-", name).strip("-") + ("-probe" if probe else "-no-probe"))
    it = iter(replies)
    client = MeteredClient(
        ScriptedLLM(lambda m: next(it, replies[-1])), cache=ResponseCache(run_dir / LLM_CACHE)
    )
    result = learn("TicTacToe-v0", LearnConfig(mode=mode, probe=probe), client, run_dir)
    transcript = tmp / f"{run_dir.name}.jsonl"
    export_transcript(run_dir / LLM_CACHE, transcript)
    return transcript, result


def replay_wall_time(tmp: Path) -> dict[str, Any]:
    transcript, _ = record(tmp, "replay", "verifier", [ttt.LAX, ttt.STUCK_PROPOSER, ttt.GOOD], True)
    out = tmp / "replayed"
    cmd = [sys.executable, "-m", "autoharness.cli", "learn", "TicTacToe-v0", "--llm", f"replay:{transcript}"]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"replay failed: {proc.stderr}")
    summary = json.loads((out / "summary.json").read_text())
    return {
        "command": " ".join(cmd[2:]) + " --out DIR",
        "seconds": round(seconds, 2),
        "iterations": summary["iterations"],
        "learning_seconds": summary["seconds"],
        "goal_seconds": GOAL_REPLAY_SECONDS,
        "ok": seconds < GOAL_REPLAY_SECONDS,
    }


def throughput() -> dict[str, Any]:
    code = child_code(ttt.GOOD, "verifier", "both", None)
    env = make("TicTacToe-v0")
    raw_steps, start = 0, time.perf_counter()
    for seed in range(300):
        turn = env.reset(seed)
        while True:
            board = turn.observation.rsplit("Current Board:", 1)[-1]
            result = env.step(f"[{re.findall(r' ([0-8]) ', board)[0]}]")  # the first free cell
            raw_steps += 1
            if result.done or result.next is None:
                break
            turn = result.next
    raw = raw_steps / (time.perf_counter() - start)
    out: dict[str, Any] = {"raw_env_steps_per_s": round(raw)}
    for probe in (False, True):
        config = LearnConfig(probe=probe)
        with WorkerPool(config.parallelism) as pool, Evaluator("TicTacToe-v0", config, pool) as ev:
            ev.evaluate(code)  # warm the workers
            runs, steps, probes, start = 5, 0, 0, time.perf_counter()
            for _ in range(runs):
                e = ev.evaluate(code)
                steps, probes = steps + e.steps, probes + e.probes
            seconds = time.perf_counter() - start
        key = "probe" if probe else "no_probe"
        out[key] = {
            "evaluations_per_s": round(runs / seconds, 2),
            "steps_per_s": round(steps / seconds),
            "probes_per_evaluation": probes // runs,
        }
    return out


def probing_effect(tmp: Path) -> list[dict[str, Any]]:
    rows = []
    for name, (mode, replies) in SCENARIOS.items():
        _, with_probe = record(tmp, name, mode, replies, True)
        _, without = record(tmp, name, mode, replies, False)
        store = RunStore(without.run_dir, create=False)
        best = store.node(without.best_node)
        store.close()
        code = best.code or ""
        config = LearnConfig(mode=mode, probe=True)
        with WorkerPool(config.parallelism) as pool, Evaluator("TicTacToe-v0", config, pool) as ev:
            check = ev.evaluate(code)
        rows.append(
            {
                "scenario": name,
                "iterations_probe": with_probe.iterations,
                "iterations_no_probe": without.iterations,
                "no_probe_result_probe_mismatches": f"{len(check.mismatches)}/{check.probes}",
                "no_probe_result_true_h": round(check.h, 3),
            }
        )
    for transcript in sorted((ROOT / "src/autoharness/data/transcripts").glob("*.jsonl")):
        game, _, mode = transcript.stem.rpartition("-")
        out = tmp / transcript.stem
        cmd = ["learn", game, "--mode", mode, "--llm", f"replay:{transcript}", "--out", str(out)]
        subprocess.run(
            [sys.executable, "-m", "autoharness.cli", *cmd],
            cwd=ROOT,
            capture_output=True,
            timeout=600,
        )
        store = RunStore(out, create=False)
        nodes = store.nodes()
        store.close()
        rows.append(
            {
                "scenario": f"recorded {transcript.name}",
                "iterations_probe": _first(nodes, lambda n: n.code is not None and n.h >= 1.0),
                "iterations_no_probe": _first(nodes, lambda n: n.code is not None and n.legal_rate >= 1.0),
                "no_probe_result_probe_mismatches": "(counterfactual on the recorded tree)",
                "no_probe_result_true_h": None,
            }
        )
    return rows


def _first(nodes: list[Any], pred: Any) -> int | None:
    """1-based position of the first node satisfying ``pred`` (the iteration a run would stop at)."""
    return next((i + 1 for i, n in enumerate(nodes) if pred(n)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = {
            "replay": replay_wall_time(Path(tmp) / "replay"),
            "throughput": throughput(),
            "probing": probing_effect(Path(tmp) / "probing"),
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        r = figures["replay"]
        print(f"replayed learning run ({r['iterations']} iterations): {r['seconds']} s wall", end="")
        print(f" (goal < {r['goal_seconds']} s)")
        t = figures["throughput"]
        print(f"raw env: {t['raw_env_steps_per_s']} steps/s")
        for key in ("no_probe", "probe"):
            v = t[key]
            print(
                f"evaluator ({key}): {v['steps_per_s']} steps/s, {v['evaluations_per_s']} evaluations/s, "
                f"{v['probes_per_evaluation']} probes/evaluation"
            )
        for row in figures["probing"]:
            print(
                f"{row['scenario']}: iterations to 1.0 with probing {row['iterations_probe']}, without "
                f"{row['iterations_no_probe']}; no-probe result {row['no_probe_result_probe_mismatches']} "
                f"probes wrong, true H {row['no_probe_result_true_h']}"
            )
    if not figures["replay"]["ok"]:
        raise SystemExit("replay wall time over its goal")


if __name__ == "__main__":
    main()
