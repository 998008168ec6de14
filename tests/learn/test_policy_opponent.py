"""Policy mode in 2-player games: the harness plays one seat per rollout against a seeded random opponent
that plays only legal moves (the env's oracle, else probing), so H = 0.5 + 0.5·(its own reward)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autoharness.envs import make
from autoharness.learn.config import LearnConfig
from autoharness.learn.evaluator import Evaluator
from autoharness.sandbox import WorkerPool
from tests.learn.tictactoe import _FREE, CORRECT_CHECKER, FIRST_FREE
from tests.test_agents import CONNECT_FOUR_COLUMNS

FIRST = _FREE + CORRECT_CHECKER + FIRST_FREE
EDGES_FIRST = (
    _FREE
    + CORRECT_CHECKER
    + """
def propose_action(obs):
    free = _free(obs)
    return next(f"[{c}]" for c in "135702864" if c in free)
"""
)
"""A legal policy that plays to lose: edges first, where no line of its own is ever completed early."""
ILLEGAL = _FREE + CORRECT_CHECKER + '\ndef propose_action(obs):\n    return "[4]"\n'

CONFIG = LearnConfig(mode="policy", n_envs=4, parallelism=2)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as p:
        yield p


def test_harness_plays_alternate_seats_against_random_and_can_pass_075(pool):
    with Evaluator("TicTacToe-v0", CONFIG, pool) as evaluator:
        good, again = evaluator.evaluate(FIRST), evaluator.evaluate(FIRST)
        losing = evaluator.evaluate(EDGES_FIRST)
        illegal = evaluator.evaluate(ILLEGAL)
    assert good.opponent == "random" and [r.seat for r in good.rollouts] == [0, 1, 0, 1]
    assert all(s.player == r.seat for r in good.rollouts for s in r.steps)
    assert good.h > 0.75 and good.legal_rate == 1.0
    assert (again.h, again.summary()) == (good.h, good.summary())  # deterministic for fixed seeds
    assert losing.legal_rate == 1.0 and losing.h < good.h
    assert illegal.h == 0.0
    summary = good.summary()
    assert summary["opponent"] == "random" and "note" not in summary
    assert [r["seat"] for r in summary["rollouts"]] == [0, 1, 0, 1]


def test_without_an_oracle_the_random_opponent_still_plays_only_legal_moves(pool):
    assert make("ConnectFour-v0").legal_moves() is None  # TextArena prints no move list for it
    with Evaluator("ConnectFour-v0", CONFIG, pool) as evaluator:
        ev = evaluator.evaluate(CONNECT_FOUR_COLUMNS)  # the leftmost column not yet full
    assert ev.opponent == "random" and [r.seat for r in ev.rollouts] == [0, 1, 0, 1]
    assert all(r.done and {s.player for s in r.steps} == {r.seat} for r in ev.rollouts)
    assert ev.legal_rate == 1.0 and "note" not in ev.summary()


def test_games_without_a_move_list_get_a_legal_random_opponent_too(pool):
    """Nim has no move list: its random opponent's moves come from the rules' '[0 3]' format."""
    policy = (  # legal while pile 0 has objects
        'def propose_action(obs):\n    return "[0 1]"\n\ndef is_legal_action(obs, action):\n    return True\n'
    )
    with Evaluator("Nim-v0", CONFIG, pool) as evaluator:
        ev = evaluator.evaluate(policy)
    assert ev.opponent == "random" and [r.seat for r in ev.rollouts] == [0, 1, 0, 1]
    assert all(r.steps for r in ev.rollouts)


def test_one_player_games_and_other_modes_keep_playing_every_seat(pool):
    with Evaluator("TowerOfHanoi-v0", CONFIG, pool) as evaluator:
        assert evaluator.opponent is None
    verifier = LearnConfig(mode="verifier", n_envs=2, parallelism=2)
    with Evaluator("TicTacToe-v0", verifier, pool) as evaluator:
        ev = evaluator.evaluate(FIRST)
    assert ev.opponent is None and "opponent" not in ev.summary()
    assert all(r.seat is None for r in ev.rollouts) and {s.player for s in ev.rollouts[0].steps} == {0, 1}


def test_a_win_by_the_opponents_forfeit_is_no_reward(pool, monkeypatch):
    """Every opponent move rejected: the harness 'wins' each game by forfeit, which is no result for it."""
    from autoharness.agents import RandomAgent
    from autoharness.rollout import RolloutEnd

    monkeypatch.setattr(RandomAgent, "act", lambda self, observation, player: "[9]")
    with Evaluator("TicTacToe-v0", CONFIG, pool) as evaluator:
        ev = evaluator.evaluate(FIRST)
    assert {r.end for r in ev.rollouts} == {RolloutEnd.OPPONENT_FORFEIT}
    assert all(r.normalized_rewards[r.seat] == 1.0 and not r.done for r in ev.rollouts)  # what the env gave
    assert ev.scored == [] and ev.reward == 0.0 and ev.h == 0.5
    assert {r["end"] for r in ev.summary()["rollouts"]} == {"opponent forfeit"}


GAME_2048_POLICY = """
def _rows(obs):
    lines = [line for line in obs.splitlines() if line.startswith("|")][-4:]
    return [[0 if c == "." else int(c) for c in line.strip("|").split()] for line in lines]


def _slide(row):
    tiles, out = [t for t in row if t], []
    while tiles:
        if len(tiles) > 1 and tiles[0] == tiles[1]:
            out.append(2 * tiles.pop(0))
            tiles.pop(0)
        else:
            out.append(tiles.pop(0))
    return out + [0] * (len(row) - len(out))


def _moved(rows, move):
    cols = [list(c) for c in zip(*rows)]
    if move == "[Left]":
        return any(_slide(r) != r for r in rows)
    if move == "[Right]":
        return any(_slide(r[::-1]) != r[::-1] for r in rows)
    if move == "[Up]":
        return any(_slide(c) != c for c in cols)
    return any(_slide(c[::-1]) != c[::-1] for c in cols)


def propose_action(obs):
    rows = _rows(obs)
    return next((m for m in ("[Up]", "[Left]", "[Right]", "[Down]") if _moved(rows, m)), "[Up]")


def is_legal_action(obs, action):
    return _moved(_rows(obs), action)
"""
"""2048: a move that changes the board, up and left first (a classic corner strategy)."""


def test_a_game_cut_at_the_step_cap_scores_the_games_own_progress(pool):
    """2048 cut after 30 moves: r is 2048's completion for the board reached (TextArena's turn-limit reward),
    not 0, and each rollout is marked cut."""
    from autoharness.rollout import RolloutEnd

    config = LearnConfig(mode="policy", n_envs=2, parallelism=2, max_steps=30)
    with Evaluator("2048-v0", config, pool) as evaluator:
        ev = evaluator.evaluate(GAME_2048_POLICY)
    assert all(r.end is RolloutEnd.STEP_CAP and r.cut and not r.done for r in ev.rollouts), ev.summary()
    env = make("2048-v0")
    env.reset(0)
    assert ev.reward > env.cut_rewards()[0] > 0  # more progress than the opening board
    assert ev.h == 0.5 + 0.5 * ev.reward
