"""``envs.actions`` on real TextArena games: legal moves from the oracle or from probing clones, dead
positions, and moves compared by the position they lead to."""

from __future__ import annotations

import random

import pytest

from autoharness.envs import (
    actions,
    find_legal_actions,
    is_dead,
    legal_actions,
    make,
    random_legal_action,
    same_move,
    successor_key,
)
from autoharness.envs.actions import bracketed, candidate_spaces


def test_spellings_of_one_move_lead_to_one_position_and_other_moves_do_not():
    env = make("ConnectFour-v0-large")
    env.reset(1)
    assert same_move(env, "[col 3]", "[col 03]")
    assert not same_move(env, "[col 3]", "[col 4]")
    assert successor_key(env, "[col 99]") is None  # rejected: no position
    assert not same_move(env, "[col 99]", "[col 99]")


def test_rush_hour_tells_a_respelling_from_another_move():
    """RushHour's cars are slotted objects (no ``__dict__``): the position is read from their slots, not
    from a ``repr`` holding each copy's memory address, which made every move look like another."""
    env = make("RushHour-v0")
    env.reset(0)
    assert same_move(env, "[A+]", "[a+]")
    assert not same_move(env, "[A+]", "[B+]")
    assert legal_actions(env) == ["[A+]", "[B+]", "[F+]", "[X-]", "[C-]", "[G-]", "[H-]", "[F-]"]


def test_connect_four_lists_each_column_once_whatever_the_parser_tolerates():
    env = make("ConnectFour-v0-large")
    turn = env.reset(1)
    found = find_legal_actions(env, turn.observation)
    assert sorted(found.actions, key=lambda a: int(a[5:-1])) == [f"[col {c}]" for c in range(15)]
    assert found.exact and "template [col 4]" in found.sources


def test_probing_never_touches_the_env_it_is_given():
    env = make("Breakthrough-v0-small")
    turn = env.reset(2)
    before = env.position_key()
    moves = legal_actions(env, turn.observation)
    assert env.position_key() == before and env.current_observation() == turn.observation
    result = env.step(moves[0])  # the env still plays from where it was
    assert result.legal and not result.done


def test_checkers_opening_has_exactly_the_seven_forward_moves():
    """Red's men on row 5 each step diagonally forward to row 4: 7 moves (the edge man has one), from the
    game's own move check (``envs.checkers``)."""
    env = make("Checkers-v0")
    turn = env.reset(0)
    moves = legal_actions(env, turn.observation)
    assert len(moves) == 7 and all(m.startswith("[5 ") and m[5] == "4" for m in moves)


def test_oracle_games_answer_from_the_oracle():
    env = make("Chess-v0")
    env.reset(0)
    found = find_legal_actions(env)
    assert found.exact and found.sources == ["oracle"] and len(found.actions) == 20


def test_a_blocked_breakthrough_side_is_a_dead_position():
    """TextArena's Breakthrough has no rule for a side with no move; White's last piece is blocked here."""
    env = make("Breakthrough-v0-small")
    turn = env.reset(3)
    board = env._game.state.game_state["board"]
    size = len(board)
    for row in board:
        row[:] = [""] * size
    board[1][0], board[2][0], board[size - 1][size - 1] = "W", "B", "B"  # a2 blocked by a3; b3 empty
    assert is_dead(env, turn.observation)
    assert legal_actions(env, turn.observation) == []
    assert random_legal_action(env, random.Random(0), turn.observation) is None
    board[2][1] = "B"  # now a2xb3 captures
    assert not is_dead(env, turn.observation)
    assert legal_actions(env, turn.observation) == ["[a2b3]"]


def test_bracketed_keeps_nested_examples_and_drops_sender_tags():
    text = "[GAME] To place: [place () {(3,2): [C0]}]\n[Player 0] [a2a3]"
    assert bracketed(text) == ["[place () {(3,2): [C0]}]", "[a2a3]"]


def test_templates_vary_numbers_squares_and_placeholders_from_the_text():
    spaces = {
        s.name: s for s in candidate_spaces("Use '[bet X]' or [row col]; board 0 to 4; e.g. [a2a3] a b")
    }
    assert "[bet 3]" in spaces["template [bet X]"] and "[4 0]" in spaces["template [row col]"]
    assert "[b4a1]" in spaces["template [a2a3]"]  # squares a1-h8: no board drawn or sized
    assert len(spaces["template [row col]"]) == 25


@pytest.mark.parametrize(
    "game", ["Sudoku-v0", "TowerOfHanoi-v0", "Tak-v0", "ColonelBlotto-v0", "Mastermind-v0", "LightsOut-v0"]
)
def test_games_without_a_move_list_get_legal_random_moves(game):
    env = make(game)
    turn = env.reset(5)
    rng = random.Random(5)
    for _ in range(4):
        move = random_legal_action(env, rng, turn.observation)
        assert move is not None
        result = env.step(move)
        assert result.legal, (move, result.reason)
        if result.done:
            break
        turn = result.next


def _counting_probes(monkeypatch) -> list[str]:
    """Every action ``envs.actions`` plays on a copy from now on (the real ``_successor``, counted)."""
    played: list[str] = []
    real = actions._successor

    def counted(env, action, *rest):
        played.append(action)
        return real(env, action, *rest)

    monkeypatch.setattr(actions, "_successor", counted)
    return played


def test_a_position_met_again_is_not_probed_again_and_gives_what_probing_gives(monkeypatch):
    """TowerOfHanoi-v0 starts alike on every seed: the second game's legal moves come from the memo, equal
    to a fresh enumeration (memo off) move for move, with the same probe count and sources."""
    played = _counting_probes(monkeypatch)
    first, second = make("TowerOfHanoi-v0"), make("TowerOfHanoi-v0")
    found = find_legal_actions(first, first.reset(11).observation)
    assert played and found.actions
    played.clear()
    again = find_legal_actions(second, second.reset(12).observation)
    assert played == []
    monkeypatch.setattr(actions, "KNOWN_SIZE", 0)
    fresh = find_legal_actions(second, second.current_observation())
    assert len(played) == fresh.probes > 0
    for result in (found, again):
        assert (result.actions, result.exact, result.probes, result.sources) == (
            fresh.actions,
            fresh.exact,
            fresh.probes,
            fresh.sources,
        )


def test_the_memo_keeps_apart_states_that_look_alike_but_play_differently(monkeypatch):
    """Same board, later turn (TowerOfHanoi's turn limit): another state. A game whose moves draw from its
    generator (2048 spawns a tile): the same board with the generator elsewhere is probed afresh."""
    hanoi = make("TowerOfHanoi-v0")
    turn = hanoi.reset(3)
    start = hanoi.state_key()
    there = legal_actions(hanoi, turn.observation)[0]
    back = "[" + " ".join(reversed(there[1:-1].split())) + "]"
    assert hanoi.step(there).legal and hanoi.step(back).legal
    assert hanoi.state_key() is not None and hanoi.state_key() != start  # turn count differs
    assert hanoi.position_key() != start  # (position_key is another digest altogether)

    played = _counting_probes(monkeypatch)
    tiles = make("2048-v0")
    turn = tiles.reset(5)
    find_legal_actions(tiles, turn.observation)
    elsewhere = tiles.clone()
    elsewhere._rng.random()  # the same board, the generator one draw further
    assert elsewhere.state_key(generator=False) == tiles.state_key(generator=False)
    assert elsewhere.state_key() != tiles.state_key()
    played.clear()
    find_legal_actions(tiles.clone(), turn.observation)  # same state, same generator: reused
    assert played == []
    find_legal_actions(elsewhere, turn.observation)
    assert played  # probed again: its moves may spawn other tiles


@pytest.mark.parametrize(
    ("game", "plies"), [("Battleship-v0", 6), ("TowerOfHanoi-v0", 3), ("Breakthrough-v0", 5)]
)
def test_moves_play_out_on_pickled_copies_exactly_as_on_deep_copies(game, plies):
    """``scratches()`` (the game pickled once, each copy unpickled) against ``scratch()``: every candidate
    of the position gives the same result, observation, position and whole state afterwards."""
    env = make(game)
    turn = env.reset(4)
    rng = random.Random(4)
    for _ in range(plies):
        turn = env.step(random_legal_action(env, rng, turn.observation)).next
    fast = env.scratches()
    assert fast != env.scratch  # these games pickle exactly
    compared = 0
    for space in candidate_spaces(turn.observation):
        for action in list(space)[:200]:
            deep, pickled = env.scratch(), fast()
            a, b = deep.step(action), pickled.step(action)
            assert (a.legal, a.done, a.reason, a.rewards, a.next, a.info) == (
                b.legal,
                b.done,
                b.reason,
                b.rewards,
                b.next,
                b.info,
            )
            assert deep.state_key() == pickled.state_key() and deep.position_key() == pickled.position_key()
            compared += 1
    assert compared > 100
    assert env.position_key() is not None and env.current_observation() == turn.observation  # untouched


def test_a_state_that_cannot_be_keyed_exactly_is_neither_memoized_nor_pickled():
    """A closure in the game's state (its captured values are invisible): no ``state_key``, deep copies."""
    env = make("TowerOfHanoi-v0")
    env.reset(1)
    hidden = [0]
    env._game.state.game_state["peek"] = lambda: hidden[0]
    assert env.state_key() is None and env.scratches() == env.scratch
    assert legal_actions(env, env.current_observation())  # probing still works, the long way


def test_a_game_message_that_reads_as_a_range_does_not_hide_moves():
    """Chopsticks says "it goes from 1 to 2" after an attack: read as a stated range, it left 0 out of every
    number slot, and positions whose moves all need a 0 looked dead (15 in Chopsticks-v0's verification)."""
    env = make("Chopsticks-v0")
    env.reset(0)
    turn = env.step("[attack 0 1]").next
    assert "from 1 to 2" in turn.observation
    found = set(legal_actions(env, turn.observation))
    assert {"[attack 0 0]", "[attack 0 1]", "[attack 1 0]", "[attack 1 1]", "[split 2 1]"} <= found
    assert all(env.clone().step(move).legal for move in found)
    # still out of reach: [split 0 3] and [split 3 0] (a 3 the text never shows, in brackets or as a range)
