"""CPU cost of ``autoharness verify`` in games without a move list, the old way against the new, in one run.

    .venv/bin/python benchmarks/bench_probing.py [--games TowerOfHanoi-v0 Breakthrough-v0] [--positions 60]

In the games TextArena gives no move list for, every checked position's legal moves are found by trying
hundreds to thousands of candidate moves on copies of the game (``envs.actions``), and that is where a
verification's CPU goes. For each game the built-in library's verifier harness is verified twice on the same
seed and position count: the old way (every position probed afresh, each move on a deep copy of the game:
``envs.actions.KNOWN_SIZE = SCRATCHES_FROM = 0``) and the new way (a position met again reuses what probing
found for an equal game state; the moves of one position are tried on copies unpickled from one pickle of
the game). Both start as a fresh process would (no remembered spaces, nothing memoized). Time is this
process's CPU time (``time.process_time``: the sandbox worker answering the harness calls is another process
and does the same work both ways), so other jobs on a shared machine hardly move it. Printed per game: CPU
seconds per verified position each way, the ratio old/new, and whether the two reports are identical (every
figure and counterexample, times aside). Exit status 1 when a report differs: the new way must change the
cost, never a verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from autoharness.builtin import BuiltinLibrary
from autoharness.envs import actions
from autoharness.verify import verify_harness

GAMES = ("TowerOfHanoi-v0", "Breakthrough-v0", "Battleship-v0-extreme")
WAYS = {
    "old": {"KNOWN_SIZE": 0, "SCRATCHES_FROM": 0},
    "new": {"KNOWN_SIZE": actions.KNOWN_SIZE, "SCRATCHES_FROM": actions.SCRATCHES_FROM},
}
"""``envs.actions`` settings of each way."""


def run(game: str, source: str, positions: int, way: str) -> tuple[float, dict[str, object]]:
    """CPU seconds of one verification done ``way``, and its report (times left out)."""
    for name, value in WAYS[way].items():
        setattr(actions, name, value)
    actions._KNOWN.clear()
    started = time.process_time()
    report = verify_harness(game, source, positions=positions, seed=0, workers=1)
    cpu = time.process_time() - started
    figures = report.to_dict()
    for key in ("seconds", "positions_per_second"):
        figures.pop(key)
    return cpu, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", nargs="+", default=list(GAMES))
    parser.add_argument("--positions", type=int, default=60)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"cores {os.cpu_count()}, load average at start {load:.1f}; {args.positions} positions asked")
    header = f"{'game':<24}{'positions':>10}{'old CPU s/pos':>15}{'new CPU s/pos':>15}{'old/new':>9}"
    print(header + "  same report")
    differ = []
    library = BuiltinLibrary()
    for game in args.games:
        entry = library.get(game, "verifier")
        if entry is None:
            print(f"{game:<24}  no built-in verifier harness: skipped")
            continue
        cpu: dict[str, float] = {}
        reports = {}
        for way in ("old", "new"):
            cpu[way], reports[way] = run(game, entry.code, args.positions, way)
        same = json.dumps(reports["old"], sort_keys=True) == json.dumps(reports["new"], sort_keys=True)
        if not same:
            differ.append(game)
        n = max(1, int(reports["new"]["positions"]))  # type: ignore[call-overload]
        print(
            f"{game:<24}{n:>10}{cpu['old'] / n:>15.3f}{cpu['new'] / n:>15.3f}{cpu['old'] / cpu['new']:>9.2f}"
            f"  {'yes' if same else 'NO'}",
            flush=True,
        )
    if differ:
        print(f"reports differ between the two ways: {', '.join(differ)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
