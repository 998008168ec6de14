"""Cost of ``autoharness verify``: positions/s on TicTacToe-v0, Chess-v0 and Othello-v0, against a plain
rollout of the same harness in the same run.

    .venv/bin/python benchmarks/bench_verify.py [--positions 2000] [--workers 2] [--rollout-steps 600]

The harness of each game is the one its bundled transcript ends with (src/autoharness/data/transcripts; the
code is read, never edited). "rollout" plays the harness in verifier mode (``play_rollout``, one sandbox
worker, evaluation seeds) and counts judged steps per second: one ``propose_action`` + ``is_legal_action``
round trip and one game step each. "verify" checks ``--positions`` held-out positions with ``--workers``
processes: per position every legal action and ~12 illegal candidates are judged (one batched round trip),
plus the play between checked positions. The ratio is rollout steps/s ÷ verify positions/s: how many plain
rollout steps one verified position costs. Wall-clock figures on a shared machine: the load average is
printed beside them. Exit status 1 when Chess-v0 takes more than ``GOAL_SECONDS`` for 2,000 positions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from importlib import resources
from pathlib import Path

from autoharness.envs import make
from autoharness.learn.config import EVAL_SEED_START
from autoharness.llm import read_transcript
from autoharness.llm.extract import extract_code
from autoharness.rollout import play_rollout
from autoharness.sandbox import WorkerPool
from autoharness.verify import verify_harness

GAMES = ("TicTacToe-v0", "Chess-v0", "Othello-v0")
GOAL_SECONDS = 60.0
TRANSCRIPTS = Path(str(resources.files("autoharness").joinpath("data", "transcripts")))


def harness(game: str) -> str:
    return extract_code(read_transcript(TRANSCRIPTS / f"{game}-verifier.jsonl")[-1].text)


def rollout_rate(game: str, source: str, steps: int) -> tuple[float, int]:
    """Judged rollout steps per second (and how many) over whole games until ``steps`` is reached."""
    done, seed = 0, EVAL_SEED_START
    started = time.perf_counter()
    with WorkerPool(1) as pool:
        while done < steps:
            with pool.session(source, "verifier") as session:
                done += len(play_rollout(make(game), session, "verifier", seed).steps)
            seed += 1
    return done / (time.perf_counter() - started), done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--positions", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rollout-steps", type=int, default=600)
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}, load average at start {os.getloadavg()[0]:.1f}")
    header = f"{'game':<14}{'rollout steps/s':>16}{'verify pos/s':>14}{'ratio':>8}{'verify s':>10}"
    print(header + f"{'actions':>9}{'disagreements':>15}  load")
    chess_seconds = None
    for game in GAMES:
        source = harness(game)
        steps_per_s, _ = rollout_rate(game, source, args.rollout_steps)
        report = verify_harness(game, source, positions=args.positions, workers=args.workers)
        rate = report.positions / report.seconds
        if game == "Chess-v0":
            chess_seconds = report.seconds * 2000 / report.positions
        print(
            f"{game:<14}{steps_per_s:>16.1f}{rate:>14.1f}{steps_per_s / rate:>8.1f}{report.seconds:>10.1f}"
            f"{report.actions_checked:>9}{report.disagreements:>15}  {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    assert chess_seconds is not None
    verdict = "met" if chess_seconds <= GOAL_SECONDS else "MISSED"
    print(f"goal: 2,000 Chess-v0 positions in {chess_seconds:.1f} s (goal < {GOAL_SECONDS:g} s): {verdict}")
    return 0 if chess_seconds <= GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
