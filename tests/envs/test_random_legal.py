"""Issue 10, item 2: a random player plays only legal moves in every one of the 145 games.

A few plies per game from two seeds (kept short: the whole file must stay fast); the longer measurement
(40 plies x 2 seeds per game) is in the closing note of issue 10a."""

from __future__ import annotations

import random

import pytest

from autoharness.envs import list_games, make, random_legal_action

PLIES = 3
SEEDS = {"Sokoban-v0-medium": (0, 7), "Sudoku-v0-hard": (1, 3)}
"""Seeds whose TextArena generator is fast for these two games (some take 5-30 s); (1, 2) elsewhere."""
NOT_FOUND: dict[str, str] = {}
"""Games whose legal moves the candidates do not reach within the probe budget, with the reason."""


def _param(game: str) -> object:
    reason = NOT_FOUND.get(game)
    return pytest.param(game, marks=pytest.mark.xfail(strict=True, reason=reason)) if reason else game


@pytest.mark.parametrize("game", [_param(spec.id) for spec in list_games()])
def test_random_moves_are_legal(game: str) -> None:
    for seed in SEEDS.get(game, (1, 2)):
        env = make(game)
        turn = env.reset(seed)
        rng = random.Random(seed)
        for ply in range(PLIES):
            move = random_legal_action(env, rng, turn.observation)
            assert move is not None, f"{game} seed {seed} ply {ply}: no legal move found"
            result = env.step(move)
            assert result.legal, f"{game} seed {seed} ply {ply}: {move} rejected ({result.reason})"
            if result.done:
                break
            assert result.next is not None
            turn = result.next
