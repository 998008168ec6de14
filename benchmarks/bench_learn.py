"""Learning-loop figures on real games: replay wall time, evaluator throughput, what oracle probing changes.

No model API is reachable here. Replies come from recorded transcripts: the ones bundled in
``src/autoharness/data/transcripts`` (answered by hand through the manual backend), and scripted scenarios
recorded on the spot from the harnesses in ``tests/learn/tictactoe.py``.

Measured:

1. wall time of ``autoharness learn TicTacToe-v0 --llm replay:FILE`` in a fresh process, default config
   (10 rollouts, 2 workers) — goal < 10 s;
2. evaluator throughput (steps/s over the 10 training rollouts, sandboxed workers) with probing and
   exploration off, probing off, and the default (both on), beside the raw env step rate;
3. oracle probing: iterations to H = 1.0 with and without probing on the same replies (exploration at its
   default), and with neither probing nor exploration (the paper's loop), and what the harness that last run
   stops with gets wrong (probed actions judged wrongly). For bundled transcripts
   (which can only be replayed with the probing setting they were recorded with) the no-probe figure is
   the counterfactual on the recorded tree: the first node whose legal-step rate alone is 1.0;
4. exploration (verifier mode): distinct games (distinct final observations) over the 10 training rollouts
   of a fixed-policy harness, ``explore`` 0 (the paper) vs the default, on TicTacToe-v0 (the first-free
   harness, sandboxed) and Chess-v0 (first legal move in UCI order, in process: it needs python-chess, which
   harness code may not import).

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
from autoharness.rollout import play_rollout  # noqa: E402
from autoharness.sandbox import WorkerPool  # noqa: E402
from autoharness.sandbox.pool import Proposal  # noqa: E402

GOAL_REPLAY_SECONDS = 10.0
DEFAULT_EXPLORE = LearnConfig().explore
SCENARIOS = {
    "verifier: lax checker → correct": ("verifier", [ttt.LAX, ttt.GOOD]),
    "verifier: stuck proposer → fixed (proposer only)": ("verifier", [ttt.STUCK_PROPOSER, ttt.GOOD]),
    "verifier: over-strict checker → correct": ("verifier", [ttt.STRICT, ttt.GOOD]),
    "filter: short list → exact list": ("filter", [ttt.FILTER_SHORT, ttt.FILTER_GOOD]),
}


def record(
    tmp: Path, name: str, mode: str, replies: list[str], probe: bool, explore: float = DEFAULT_EXPLORE
) -> tuple[Path, Any]:
    """Run a scripted scenario through a cache, export it as a transcript; (transcript, result)."""
    suffix = ("-probe" if probe else "-no-probe") + f"-explore{explore}"
    run_dir = tmp / (re.sub(r"\W+", "-", name).strip("-") + suffix)
    it = iter(replies)
    client = MeteredClient(
        ScriptedLLM(lambda m: next(it, replies[-1])), cache=ResponseCache(run_dir / LLM_CACHE)
    )
    result = learn("TicTacToe-v0", LearnConfig(mode=mode, probe=probe, explore=explore), client, run_dir)
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
    for key, probe, explore in (
        ("no_probe_no_explore", False, 0.0),
        ("no_probe", False, DEFAULT_EXPLORE),
        ("probe", True, DEFAULT_EXPLORE),
    ):
        config = LearnConfig(probe=probe, explore=explore)
        with WorkerPool(config.parallelism) as pool, Evaluator("TicTacToe-v0", config, pool) as ev:
            ev.evaluate(code)  # warm the workers
            runs, steps, probes, start = 5, 0, 0, time.perf_counter()
            for _ in range(runs):
                e = ev.evaluate(code)
                steps, probes = steps + e.steps, probes + e.probes
            seconds = time.perf_counter() - start
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
        _, paper = record(tmp, name, mode, replies, False, explore=0.0)  # neither probing nor exploration
        store = RunStore(paper.run_dir, create=False)
        best = store.node(paper.best_node)
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
                "iterations_no_probe_no_explore": paper.iterations,
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
        stop_no_probe = _first(nodes, lambda n: n.code is not None and n.legal_rate >= 1.0)
        accepted = nodes[stop_no_probe - 1] if stop_no_probe else None  # what a no-probe run would keep
        rows.append(
            {
                "scenario": f"recorded {transcript.name}",
                "iterations_probe": _first(nodes, lambda n: n.code is not None and n.h >= 1.0),
                "iterations_no_probe": stop_no_probe,
                "iterations_no_probe_no_explore": "n/a (counterfactual on the recorded tree)",
                "no_probe_result_probe_mismatches": (
                    f"{accepted.evaluation['mismatches']}/{accepted.evaluation['probes']}"
                    if accepted
                    else None
                ),
                "no_probe_result_true_h": round(accepted.h, 3) if accepted else None,
            }
        )
    return rows


class ChessFirstMove:
    """A fixed Chess policy as an in-process session: the first legal move (UCI order) of the drawn board
    (no castling or en passant: every move it proposes is legal); the checker accepts any well-formed move."""

    @staticmethod
    def _board(obs: str) -> Any:
        import chess

        part = obs.rsplit("Current board:", 1)[-1]
        rows = [line.split("|")[1].split() for line in part.splitlines() if line.count("|") == 2][:8]
        fen = "/".join(re.sub(r"\.+", lambda m: str(len(m.group())), "".join(r)) for r in rows)
        return chess.Board(f"{fen} {'w' if 'playing White' in obs else 'b'} - - 0 1")

    def is_legal_action(self, obs: str, action: str) -> bool:
        return re.fullmatch(r"\s*\[[a-h][1-8][a-h][1-8][qrbn]?\]\s*", action) is not None

    def verify(self, obs: str) -> Proposal:
        moves = sorted(m.uci() for m in self._board(obs).legal_moves)
        action = f"[{moves[0]}]" if moves else "[e2e4]"
        return Proposal(action, self.is_legal_action(obs, action))


def exploration() -> list[dict[str, Any]]:
    rows = []
    seeds = LearnConfig().train_seeds
    code = child_code(ttt.GOOD, "verifier", "both", None)
    with WorkerPool(1) as pool:
        with pool.session(code, "verifier") as warm:  # start the worker outside the timings
            warm.verify(make("TicTacToe-v0").reset(0).observation)
        for game in ("TicTacToe-v0", "Chess-v0"):
            for explore in (0.0, DEFAULT_EXPLORE):
                start = time.perf_counter()
                if game == "Chess-v0":
                    session: Any = ChessFirstMove()
                    runs = [play_rollout(make(game), session, "verifier", s, explore=explore) for s in seeds]
                else:
                    with pool.session(code, "verifier") as session:
                        runs = [
                            play_rollout(make(game), session, "verifier", s, explore=explore) for s in seeds
                        ]
                seconds = time.perf_counter() - start
                steps = sum(len(r.steps) for r in runs)
                rows.append(
                    {
                        "game": game,
                        "explore": explore,
                        "distinct_games": len({r.steps[-1].observation for r in runs if r.steps}),
                        "rollouts": len(runs),
                        "steps": steps,
                        "explored_steps": sum(s.played is not None for r in runs for s in r.steps),
                        "legal_rate": round(sum(r.legal_steps for r in runs) / steps, 3),
                        "seconds": round(seconds, 2),
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
            "exploration": exploration(),
        }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        r = figures["replay"]
        print(f"replayed learning run ({r['iterations']} iterations): {r['seconds']} s wall", end="")
        print(f" (goal < {r['goal_seconds']} s)")
        t = figures["throughput"]
        print(f"raw env: {t['raw_env_steps_per_s']} steps/s")
        for key in ("no_probe_no_explore", "no_probe", "probe"):
            v = t[key]
            print(
                f"evaluator ({key}): {v['steps_per_s']} steps/s, {v['evaluations_per_s']} evaluations/s, "
                f"{v['probes_per_evaluation']} probes/evaluation"
            )
        for row in figures["probing"]:
            print(
                f"{row['scenario']}: iterations to 1.0 with probing {row['iterations_probe']}, without "
                f"{row['iterations_no_probe']}, without probing or exploration "
                f"{row['iterations_no_probe_no_explore']}; that run's result "
                f"{row['no_probe_result_probe_mismatches']} probes wrong, "
                f"true H {row['no_probe_result_true_h']}"
            )
        for row in figures["exploration"]:
            print(
                f"exploration {row['game']} explore={row['explore']}: {row['distinct_games']} distinct games "
                f"of {row['rollouts']} ({row['steps']} steps, {row['explored_steps']} explored, legal rate "
                f"{row['legal_rate']}, {row['seconds']} s)"
            )
    if not figures["replay"]["ok"]:
        raise SystemExit("replay wall time over its goal")


if __name__ == "__main__":
    main()
