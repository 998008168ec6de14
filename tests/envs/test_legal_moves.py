"""The legal-move oracle (``TextArenaEnv.legal_moves``) on all 145 games: the 36 ``ORACLE_GAMES`` list the
mover's moves every turn and Tak's, Santorini's, Checkers' and Chopsticks' are built from the game's state
(``_MOVE_GENERATORS``), and the game accepts each of them; every other game answers None — and reading its
turns anyway finds no list, or a list that is not the legal moves (a template, a stale or static list). The
oracle never changes what the agent sees."""

from __future__ import annotations

import random
import re

import pytest

from autoharness.envs import legal_actions, list_games, make, successor_key
from autoharness.envs import textarena as adapter
from autoharness.envs.base import HasLegalMoves, legal_moves_of
from autoharness.envs.hints import listed_moves, strip_move_lists
from autoharness.envs.textarena import ORACLE_GAMES

from .test_games import legal_move, seeds

GAMES = [spec.id for spec in list_games()]
PLIES = 4


def test_oracle_games_are_36_known_games() -> None:
    assert len(ORACLE_GAMES) == 36 and set(GAMES) >= ORACLE_GAMES
    assert {"Chess-v0", "Othello-v0", "TicTacToe-v0"} <= ORACLE_GAMES
    assert not {"TowerOfHanoi-v0", "Checkers-v0", "Chess-v0-blind", "FrozenLake-v0"} & ORACLE_GAMES


@pytest.mark.parametrize("game_id", GAMES)
def test_listed_moves_are_accepted_and_observations_unchanged(
    game_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = game_id.split("-")[0] in adapter._MOVE_GENERATORS
    oracle = game_id in ORACLE_GAMES or generated
    seed = seeds(game_id)[0]
    rng = random.Random(seed)
    env, plain, twin = make(game_id), make(game_id), make(game_id, keep_move_lists=True)
    assert isinstance(env, HasLegalMoves)
    turn, twin_turn = env.reset(seed), twin.reset(seed)
    assert plain.reset(seed) == turn  # ``plain`` never asks the oracle
    not_an_oracle = []  # per ply, other games: no list this turn, or a listed move the game rejects
    for ply in range(PLIES):
        moves = legal_moves_of(env)
        if oracle:
            assert moves, f"ply {ply}: no move list"
            rejected = [m for m in moves if not env.clone().step(m).legal]
            assert rejected == [], f"ply {ply}: listed moves the game rejects"
            action = rng.choice(moves)
        else:
            assert moves is None
            monkeypatch.setattr(adapter, "ORACLE_GAMES", frozenset({game_id}))
            raw = env.legal_moves()
            monkeypatch.setattr(adapter, "ORACLE_GAMES", ORACLE_GAMES)
            not_an_oracle.append(not raw or any(not env.clone().step(m).legal for m in raw))
            action = legal_move(env, game_id, turn.observation, twin_turn.observation, rng)
        result, twin_result = env.step(action), twin.step(action)
        assert result == plain.step(action) and result.legal
        if result.done:
            assert env.legal_moves() is None
            break
        assert result.next is not None and twin_result.next is not None
        turn, twin_turn = result.next, twin_result.next
    assert oracle or any(not_an_oracle), "this game lists its legal moves: add it to ORACLE_GAMES"


def test_listed_moves_reads_exactly_the_stripped_lists() -> None:
    text = "\n[GAME] Board [x]\nValid moves: [e2e4], [d2d4], [e2e4]\n[Player 0] [g1f3]"
    assert listed_moves(text) == ["[e2e4]", "[d2d4]"]
    assert strip_move_lists(text) == "\n[GAME] Board [x]\n[Player 0] [g1f3]"
    assert listed_moves("\n[GAME] Available Moves:\n  [3, 4], [2, 3]\n") == ["[3, 4]", "[2, 3]"]
    assert listed_moves("\n[GAME] Your options: up, down") == []  # a list, but no bracketed move
    assert listed_moves("\n[GAME] Current Board: [A C]") is None


def test_oracle_is_not_in_the_observation_and_ends_with_the_game() -> None:
    env = make("Chess-v0")
    turn = env.reset(0)
    moves = env.legal_moves()
    assert moves is not None and "[e2e4]" in moves and "[e2e4], " not in turn.observation
    assert make("Chess-v0", keep_move_lists=True).reset(0).observation != turn.observation
    assert env.clone().legal_moves() == moves
    assert make("Chess-v0").legal_moves() is None  # before reset
    end = env.step("[e1e1]")
    assert end.done and env.legal_moves() is None


def test_chopsticks_lists_every_move_its_game_accepts_once() -> None:
    """Chopsticks' splits go to counts its text need not show (``[split 0 6]``, a hand of 5 or more lives
    on): the oracle, built from the game's state, lists exactly the moves the game accepts among every
    ``[attack M O]`` up to 2 and ``[split L R]`` up to 12, one per position they lead to."""
    space = [f"[attack {a} {b}]" for a in range(3) for b in range(3)]
    space += [f"[split {a} {b}]" for a in range(13) for b in range(13)]
    unshown = 0  # moves the text could not suggest: a number it does not show
    for seed in (0, 1):
        env, rng = make("Chopsticks-v0"), random.Random(seed)
        turn = env.reset(seed)
        for _ in range(40):
            moves = legal_actions(env)
            keys = [successor_key(env, m) for m in moves]
            accepted = {successor_key(env, a) for a in space} - {None}
            assert None not in keys and len(set(keys)) == len(keys) and set(keys) == accepted, moves
            shown = set(re.findall(r"\d+", turn.observation))
            unshown += sum(not set(re.findall(r"\d+", m)) <= shown for m in moves)
            result = env.step(rng.choice(moves))
            if result.done:
                break
            assert result.next is not None
            turn = result.next
    assert unshown
