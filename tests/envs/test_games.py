"""All 145 games through the adapter: resets, stripped move lists, illegal-move detection, determinism,
clone independence. Legal moves for play come from ``moves`` (test-side probing on clones)."""

from __future__ import annotations

import random
import re

import pytest

from autoharness.envs import Env, list_games, make
from autoharness.envs import textarena as adapter

from .moves import candidates, live_lists_in_rules, move_list_lines

GAMES = [spec.id for spec in list_games()]
SEEDS = {"Sokoban-v0-medium": (0, 7, 9), "Sudoku-v0-hard": (1, 3, 6)}
"""TextArena's generators take 5-25 s on some seeds of these two games; these seeds take < 1 s."""
PLIES = 8
GARBAGE = "zz garbage %%"
ADDRESS = re.compile(r"0x[0-9a-f]{6,}")
"""A memory address, as the default ``repr`` of an object shows it."""
MUST_PASS = "has no valid moves and must skip"
"""Othello: a player who cannot place must pass, and TextArena accepts any action as the pass."""


def seeds(game_id: str) -> tuple[int, int, int]:
    return SEEDS.get(game_id, (0, 1, 2))


def legal_move(env: Env, game_id: str, observation: str, raw: str, rng: random.Random) -> str:
    for action in candidates(game_id, observation, raw, rng)[:3000]:
        if env.clone().step(action).legal:
            return action
    raise AssertionError(f"{game_id}: no legal move found among candidates")


@pytest.mark.parametrize("game_id", GAMES)
def test_reset_is_deterministic_and_isolated(game_id: str) -> None:
    first, *others = seeds(game_id)
    env = make(game_id)
    turns = {seed: env.reset(seed) for seed in (first, *others)}
    for seed, turn in turns.items():
        assert turn.observation.strip(), f"seed {seed}: empty observation"
        assert 0 <= turn.player < env.num_players
    adapter._RESET_CACHE.clear()  # rebuild from TextArena, not from our cache
    outer = random.getstate()
    other = make("TicTacToe-v0" if game_id != "TicTacToe-v0" else "Nim-v0")
    other.reset(first + 1)
    other.step("[4]")
    assert make(game_id).reset(first) == turns[first]
    assert random.getstate() == outer, "a game touched the process-global random"


@pytest.mark.parametrize("game_id", GAMES)
def test_a_clone_has_the_same_position_key_and_no_key_holds_an_address(game_id: str) -> None:
    """``position_key`` compares positions across copies (``envs.actions.successor_key`` plays each move
    on a clone): it must not depend on which copy holds the state, as a ``repr`` with ``0x…`` would."""
    seed = seeds(game_id)[0]
    rng = random.Random(seed)
    env, twin = make(game_id), make(game_id, keep_move_lists=True)
    turn, twin_turn = env.reset(seed), twin.reset(seed)
    for ply in range(3):
        key = env.position_key()
        assert env.clone().position_key() == key, f"ply {ply}: a clone's key differs"
        assert not ADDRESS.search(repr(key)), f"ply {ply}: {ADDRESS.search(repr(key))} in the key"
        action = legal_move(env, game_id, turn.observation, twin_turn.observation, rng)
        result, twin_result = env.step(action), twin.step(action)
        if result.done:
            return
        turn, twin_turn = result.next, twin_result.next


@pytest.mark.parametrize("game_id", GAMES)
def test_play_strips_move_lists_and_detects_illegal_moves(game_id: str) -> None:
    seed = seeds(game_id)[0]
    rng = random.Random(seed)
    env, mirror, twin = make(game_id), make(game_id), make(game_id, keep_move_lists=True)
    turn, twin_turn = env.reset(seed), twin.reset(seed)
    assert mirror.reset(seed) == turn
    for ply in range(PLIES):
        assert twin_turn.player == turn.player
        rules = env.rules(turn.player)
        assert turn.observation.startswith(f"[GAME] {rules}")
        assert live_lists_in_rules(rules) == []
        news = turn.observation[len(rules) + 7 :]
        assert move_list_lines(news) == [], f"ply {ply}: move list left in {turn.observation!r}"

        garbage = env.clone().step(GARBAGE)
        if garbage.legal:
            assert MUST_PASS in turn.observation, f"ply {ply}: garbage action accepted"
        else:
            assert garbage.done and garbage.reason, garbage
            assert set(garbage.rewards) == set(range(env.num_players))

        action = legal_move(env, game_id, turn.observation, twin_turn.observation, rng)
        result, twin_result, mirror_result = env.step(action), twin.step(action), mirror.step(action)
        assert result.legal and twin_result.legal
        assert result == mirror_result, "probing clones changed the original game"
        if result.done:
            assert set(result.rewards) == set(range(env.num_players))
            for player in result.rewards:
                assert 0.0 <= env.normalized_reward(result.rewards, player) <= 1.0
            return
        turn, twin_turn = result.next, twin_result.next
