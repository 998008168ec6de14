"""Adapter overhead: raw TextArena steps/s vs ``autoharness.envs`` steps/s on the same random legal games.

    .venv/bin/python benchmarks/bench_envs.py [--steps 3000] [--repeats 5]

Random legal action sequences are recorded first (moves probed on clones), then replayed through raw
TextArena (``step`` + ``get_observation``: what any agent needs) and through the adapter (``step``
returning the rendered, stripped observation). The two alternate episode by episode, each episode keeps
its best of ``--repeats``, and time is the process's CPU time: other jobs on a shared machine inflate wall
time by tens of percent. Exit status 1 when the adapter costs more than 10% over raw on any game.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time

import textarena as ta

from autoharness.envs import make

GAMES = {
    "TicTacToe-v0": [f"[{i}]" for i in range(9)],
    "Chess-v0": [],  # moves come from the game's own list (keep_move_lists)
    "Othello-v0": [f"[{r}, {c}]" for r in range(8) for c in range(8)],
    "2048-v0": ["[Up]", "[Down]", "[Left]", "[Right]"],
}
GOAL = 0.10
_LISTED = re.compile(r"(?:Valid|Available) moves:(.*)", re.IGNORECASE)
_TOKEN = re.compile(r"\[[^\[\]\n]+\]")


def record(game_id: str, steps: int, seed0: int = 0, max_plies: int = 300) -> list[tuple[int, list[str]]]:
    """Episodes of random legal play (seed, actions) totalling about ``steps`` moves."""
    episodes, total, seed = [], 0, seed0
    while total < steps:
        rng = random.Random(seed)
        env = make(game_id, keep_move_lists=True)
        turn, actions = env.reset(seed), []
        while len(actions) < max_plies:
            listed = [t for m in _LISTED.finditer(turn.observation) for t in _TOKEN.findall(m.group(1))]
            pool = listed[-64:] or list(GAMES[game_id])
            rng.shuffle(pool)
            action = next((a for a in pool if env.clone().step(a).legal), None)
            if action is None:
                break
            actions.append(action)
            result = env.step(action)
            if result.done:
                break
            turn = result.next
        episodes.append((seed, actions))
        total += len(actions)
        seed += 1
    return episodes


def time_raw(game_id: str, players: int, seed: int, actions: list[str]) -> float:
    env = ta.make(f"{game_id}-raw")
    env.reset(num_players=players, seed=seed)
    env.get_observation()
    start = time.process_time()
    for action in actions:
        env.step(action)
        env.get_observation()
    return time.process_time() - start


def time_adapter(game_id: str, seed: int, actions: list[str]) -> float:
    env = make(game_id)
    env.reset(seed)
    start = time.process_time()
    for action in actions:
        env.step(action)
    return time.process_time() - start


def best_times(game_id: str, episodes: list[tuple[int, list[str]]], repeats: int) -> tuple[float, float]:
    """Total raw and adapter time, each episode's best of ``repeats``; the two sides alternate episode by
    episode so that load from other processes hits both alike."""
    players = make(game_id).num_players
    raw = [float("inf")] * len(episodes)
    ours = [float("inf")] * len(episodes)
    for _ in range(repeats):
        for i, (seed, actions) in enumerate(episodes):
            raw[i] = min(raw[i], time_raw(game_id, players, seed, actions))
            ours[i] = min(ours[i], time_adapter(game_id, seed, actions))
    return sum(raw), sum(ours)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="moves per game (default 3000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side, best kept (default 5)")
    args = parser.parse_args(argv)

    print(f"{'game':<14} {'steps':>6} {'raw steps/s':>12} {'adapter steps/s':>16} {'overhead':>9}")
    worst = 0.0
    for game_id in GAMES:
        episodes = record(game_id, args.steps)
        n = sum(len(actions) for _, actions in episodes)
        raw, ours = best_times(game_id, episodes, args.repeats)
        overhead = ours / raw - 1
        worst = max(worst, overhead)
        print(f"{game_id:<14} {n:>6} {n / raw:>12,.0f} {n / ours:>16,.0f} {overhead:>+9.1%}")
    verdict = "OK" if worst <= GOAL else "OVER GOAL"
    print(f"worst overhead {worst:+.1%} (goal ≤ {GOAL:.0%}): {verdict}")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
