"""Adapter overhead: raw TextArena steps/s vs ``autoharness.envs`` steps/s on the same random legal games.

    .venv/bin/python benchmarks/bench_envs.py [--steps 3000] [--repeats 5]

Random legal action sequences are recorded first (moves probed on clones), then replayed through raw
TextArena (``step`` + ``get_observation``: what any agent needs) and through the adapter (``step``
returning the rendered, stripped observation). The two alternate episode by episode, each episode keeps
its best of ``--repeats``, and time is the process's CPU time: other jobs on a shared machine inflate wall
time by tens of percent. Exit status 1 when the adapter costs more than 10% over raw on any game; the
"vs text" column compares with raw + the minimal rendering of messages to text.

The last lines time ``env.clone()`` (the learner probes legality and explores on clones, several per step)
on Chess-v0 and Othello-v0 after ``CLONE_PLIES`` plies: µs per clone, and per clone + one move on it.
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
CLONE_GAMES = ("Chess-v0", "Othello-v0")
CLONE_PLIES = 20
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


def time_raw(game_id: str, players: int, seed: int, actions: list[str], render: bool) -> float:
    """Raw TextArena; ``render`` also joins each turn's messages into text as TextArena's LLM wrapper does
    (without its ever-growing history), the least any text agent needs."""
    env = ta.make(f"{game_id}-raw")
    env.reset(num_players=players, seed=seed)
    env.get_observation()
    start = time.process_time()
    for action in actions:
        env.step(action)
        _, messages = env.get_observation()
        if render:
            "\n".join(f"[{sender}] {text}" for sender, text, _ in messages)
    return time.process_time() - start


def time_adapter(game_id: str, seed: int, actions: list[str]) -> float:
    env = make(game_id)
    env.reset(seed)
    start = time.process_time()
    for action in actions:
        env.step(action)
    return time.process_time() - start


def best_times(game_id: str, episodes: list[tuple[int, list[str]]], repeats: int) -> list[float]:
    """Total time of raw, raw + text, and adapter, each episode's best of ``repeats``; the three alternate
    episode by episode so that load from other processes hits them alike."""
    players = make(game_id).num_players
    best = [[float("inf")] * len(episodes) for _ in range(3)]
    for _ in range(repeats):
        for i, (seed, actions) in enumerate(episodes):
            runs = (
                time_raw(game_id, players, seed, actions, render=False),
                time_raw(game_id, players, seed, actions, render=True),
                time_adapter(game_id, seed, actions),
            )
            for side, seconds in zip(best, runs, strict=True):
                side[i] = min(side[i], seconds)
    return [sum(side) for side in best]


def clone_cost(game_id: str, repeats: int, n: int = 200) -> tuple[int, float, float]:
    """(plies played, µs per ``clone()``, µs per ``clone()`` + one move on the clone), best of ``repeats``."""
    seed, actions = next(
        (s, a) for s, a in record(game_id, 1, max_plies=CLONE_PLIES + 1) if len(a) > CLONE_PLIES
    )
    env = make(game_id)
    env.reset(seed)
    for action in actions[:CLONE_PLIES]:
        env.step(action)
    move = actions[CLONE_PLIES]
    best_clone = best_step = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(n):
            env.clone()
        best_clone = min(best_clone, (time.process_time() - start) / n)
        start = time.process_time()
        for _ in range(n):
            env.clone().step(move)
        best_step = min(best_step, (time.process_time() - start) / n)
    return CLONE_PLIES, best_clone * 1e6, best_step * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="moves per game (default 3000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side, best kept (default 5)")
    args = parser.parse_args(argv)

    header = ("game", "steps", "raw/s", "raw+text/s", "adapter/s", "overhead", "vs text")
    print("{:<14} {:>6} {:>9} {:>11} {:>10} {:>9} {:>8}".format(*header))
    worst = 0.0
    for game_id in GAMES:
        episodes = record(game_id, args.steps)
        n = sum(len(actions) for _, actions in episodes)
        raw, text, ours = best_times(game_id, episodes, args.repeats)
        overhead = ours / raw - 1
        worst = max(worst, overhead)
        print(
            f"{game_id:<14} {n:>6} {n / raw:>9,.0f} {n / text:>11,.0f} {n / ours:>10,.0f}"
            f" {overhead:>+9.1%} {ours / text - 1:>+8.1%}"
        )
    for game_id in CLONE_GAMES:
        plies, clone_us, step_us = clone_cost(game_id, args.repeats)
        print(
            f"clone {game_id:<14} after {plies} plies: {clone_us:7.1f} µs/clone, {step_us:7.1f} µs/clone+step"
        )
    verdict = "OK" if worst <= GOAL else "OVER GOAL"
    print(f"worst overhead {worst:+.1%} (goal ≤ {GOAL:.0%}): {verdict}")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
