"""TextArena's Tak behind the adapter (``envs.tak``): wins have a result, made-up stones are illegal, and the
legal moves are built from the board (stack moves from every square included), each accepted by the game."""

from __future__ import annotations

import random

from autoharness.envs import make
from autoharness.envs.actions import find_legal_actions


def test_a_road_win_ends_the_game_with_a_winner() -> None:
    env = make("Tak-v0")  # 4x4
    env.reset(0)
    for row in range(4):  # Player 0 builds column 0 from top to bottom; Player 1 places in column 3
        result = env.step(f"[place () {{({row},0): [F0]}}]")
        if row < 3:
            assert result.legal and not result.done
            assert env.step(f"[place () {{({row},3): [F1]}}]").legal
    # TextArena 0.7.4 called set_winner(player_ids=...) here, a TypeError: the game ended with no result
    assert result.legal and result.done and result.rewards == {0: 1.0, 1: -1.0}
    assert "connected two opposite edges" in str(result.info.get("end"))


def test_a_stone_the_rules_do_not_name_is_illegal() -> None:
    env = make("Tak-v0-hard")
    env.reset(0)
    made_up = env.clone().step("[place () {(2,4): [C10]}]")  # TextArena keeps a capstone labelled "C10"
    assert not made_up.legal and "'C10'" in str(made_up.reason) and made_up.rewards == {0: -1.0, 1: 1.0}
    assert env.clone().step("[place () {(2,4): [C0]}]").legal
    assert not env.clone().step("[place () {(2,4): [W21]}]").legal  # not Player 0's either way
    assert all("10]" not in m and "20]" not in m for m in env.legal_moves() or [])


def _kind(move: str) -> str:
    if move.startswith("[place"):
        return "place"
    if move.count("): [") > 1:
        return "split"  # over several squares
    return "stack" if ", " in move else "one stone"


def test_legal_moves_cover_stack_moves_and_the_game_accepts_each() -> None:
    env = make("Tak-v0-hard")
    rng = random.Random(1)
    env.reset(1)
    kinds = set()
    for _ in range(120):
        moves = env.legal_moves()
        assert moves, "a running Tak game always has a move"
        for move in rng.sample(moves, min(25, len(moves))):
            assert env.clone().step(move).legal, move
        kinds.update(_kind(m) for m in moves)
        result = env.step(rng.choice(moves))
        if result.done:
            break
    assert kinds == {"place", "one stone", "stack", "split"}
    found = find_legal_actions(env)
    assert found.exact and found.sources == ["oracle"]
