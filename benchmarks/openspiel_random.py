"""Random play over every listed OpenSpiel game: the random player's legal-action rate through the adapter.

    python -m uv run --frozen python benchmarks/openspiel_random.py [--seeds 3] [--max-steps 1000]

Each game is played from seeds 0..N-1 by ``autoharness.agents.RandomAgent`` on every seat (moves from the
adapter's ``legal_moves()`` oracle), up to ``--max-steps`` plies; a game cut at the cap is counted as cut,
not as finished. Prints one line per game and the totals.
"""

from __future__ import annotations

import argparse
import time

from autoharness.agents import RandomAgent
from autoharness.envs import list_games, make


def play(game_id: str, seed: int, max_steps: int) -> tuple[int, int, bool]:
    """(moves, legal moves, finished) of one random game."""
    env = make(game_id)
    turn = env.reset(seed)
    agent = RandomAgent()
    moves = legal = 0
    for ply in range(max_steps):
        agent.begin_match(env, turn.player, seed * 100_000 + ply)
        result = env.step(agent.act(turn.observation, turn.player))
        moves += 1
        legal += result.legal
        if result.done:
            return moves, legal, True
        assert result.next is not None
        turn = result.next
    return moves, legal, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=1000)
    args = parser.parse_args()
    total_moves = total_legal = games = finished = cut = 0
    start = time.perf_counter()
    for spec in list_games("openspiel"):
        g_moves = g_legal = g_done = 0
        for seed in range(args.seeds):
            moves, legal, done = play(spec.id, seed, args.max_steps)
            g_moves, g_legal, g_done = g_moves + moves, g_legal + legal, g_done + done
        games += 1
        finished += g_done
        cut += args.seeds - g_done
        total_moves += g_moves
        total_legal += g_legal
        print(f"{spec.id:<40} {spec.players}p  legal {g_legal}/{g_moves}  finished {g_done}/{args.seeds}")
    print(
        f"{games} OpenSpiel games, {games * args.seeds} random games ({finished} finished, {cut} cut at "
        f"{args.max_steps} plies): legal rate {total_legal / total_moves:.4f} over {total_moves} moves "
        f"({time.perf_counter() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
