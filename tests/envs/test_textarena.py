"""The adapter's documented semantics on specific games (the all-games sweep is in test_games)."""

from __future__ import annotations

import enum
import random
import socket

import pytest
import textarena as ta
from textarena.envs.TicTacToe.env import TicTacToeEnv

from autoharness.envs import StepResult, Turn, get_spec, make
from autoharness.envs import textarena as adapter
from autoharness.envs.hints import strip_move_lists
from autoharness.envs.textarena import TextArenaEnv
from autoharness.errors import EnvError

from .conftest import NetworkUsed


def test_first_illegal_move_ends_the_game_with_textarena_outcome() -> None:
    env = make("TicTacToe-v0")
    env.reset(0)
    result = env.step("[4]")
    assert result.legal and not result.done and result.next.player == 1
    illegal = env.step("[4]")  # the cell is taken: TextArena would allow one retry, we stop here
    assert (illegal.legal, illegal.done) == (False, True)
    assert "4" in illegal.reason
    assert illegal.rewards == {1: -1.0, 0: 1.0}
    with pytest.raises(EnvError, match="after the game ended"):
        env.step("[0]")


def test_one_player_illegal_move_keeps_the_games_own_reward() -> None:
    env = make("TowerOfHanoi-v0")
    env.reset(0)
    result = env.step("[B C]")  # empty source tower
    assert not result.legal and "empty" in result.reason
    assert result.rewards == {0: 0.0}


@pytest.mark.parametrize("game_id", ["Snake-v0", "Surround-v0"])
def test_simultaneous_games_report_an_action_without_direction_as_illegal(game_id: str) -> None:
    env = make(game_id)
    env.reset(0)
    assert env.clone().step("[up]").legal
    result = env.step("I pass")
    assert not result.legal and result.done and "direction" in result.reason
    assert result.rewards == {0: -1.0, 1: 1.0}


def test_minesweeper_mine_is_a_lost_game_not_an_illegal_move() -> None:
    env = make("Minesweeper-v0")
    env.reset(0)
    assert env.step("[0 0]").legal
    grid = env._game.grid  # test-side peek at where the mines are
    row, col = next((r, c) for r, line in enumerate(grid) for c, cell in enumerate(line) if cell == -1)
    result = env.step(f"[{row} {col}]")
    assert result.legal and result.done
    assert 0.0 <= result.rewards[0] < 1.0
    assert "mine" in str(result.info["end"])


def _play(env_id: str, seed: int, actions: list[str], between: object = None) -> list[str]:
    env = make(env_id)
    seen = [env.reset(seed).observation]
    for action in actions:
        if callable(between):
            between()
        result = env.step(action)
        assert result.legal, result.reason
        seen.append(result.next.observation)
    return seen


def test_games_do_not_share_randomness_with_each_other_or_the_caller() -> None:
    moves = ["[Left]", "[Up]", "[Right]", "[Down]"] * 2
    alone = _play("2048-v0", 3, moves)
    noisy = _play("2048-v0", 3, moves, between=lambda: (random.seed(99), random.random()))
    assert noisy == alone  # tile spawns come from the env's own generator

    a, b = make("2048-v0"), make("2048-v0")
    interleaved = [a.reset(3).observation]
    b.reset(4)
    for move in moves:  # two games stepping in turn do not disturb each other
        interleaved.append(a.step(move).next.observation)
        b.step(move)
    assert interleaved == alone


def test_clone_is_independent_and_reports_its_own_illegal_moves() -> None:
    env = make("Chess-v0")
    env.reset(0)
    probe = env.clone()
    assert not probe.step("[e2e5]").legal
    result = env.step("[e2e4]")
    assert result.legal and "e2e4" in result.next.observation
    with pytest.raises(EnvError):
        probe.step("[e2e4]")


def test_an_action_that_crashes_the_game_is_an_illegal_move() -> None:
    env = make("Chess-v0")
    env.reset(0)
    result = env.step("[e1e1]")  # python-chess raises InvalidMoveError inside TextArena
    assert not result.legal and result.done and result.info == {"crash": True}
    assert "InvalidMoveError" in (result.reason or "") and result.rewards == {0: -1.0, 1: 1.0}


class _BreaksOnAWin(TicTacToeEnv):
    """TicTacToe whose win check breaks once the winning mark is on the board, as Checkers' ``set_winners``
    call and Stratego's win check did in TextArena 0.7.4 (both repaired since)."""

    def _check_winner(self) -> bool:
        if super()._check_winner():
            raise TypeError("set_winners() got an unexpected keyword argument 'player_id'")
        return False


def test_a_bug_inside_the_game_is_not_blamed_on_the_move() -> None:
    env = TextArenaEnv(get_spec("TicTacToe-v0"), factory=_BreaksOnAWin)
    env.reset(0)
    for move in ("[0]", "[3]", "[1]", "[4]"):
        assert env.step(move).legal
    result = env.step("[2]")  # the winning move is applied, then the game raises
    assert result.legal and result.done and result.rewards is None and result.info["crash"] is True
    assert "set_winners" in str(result.info["end"])


def test_a_game_built_by_its_own_factory_never_gets_the_registered_game_s_cached_reset(monkeypatch) -> None:
    """Slow resets are cached; keyed by (id, seed) alone, a user's game under a registered id was handed the
    registered game's reset once that had been slow (under load even TicTacToe's is): the wrong game."""
    monkeypatch.setattr(adapter, "_SLOW_RESET", 0.0)  # every reset counts as slow: cached
    make("TicTacToe-v0").reset(0)
    own = TextArenaEnv(get_spec("TicTacToe-v0"), factory=_BreaksOnAWin)
    own.reset(0)
    assert type(own._game) is _BreaksOnAWin
    again = TextArenaEnv(get_spec("TicTacToe-v0"), factory=_BreaksOnAWin)
    again.reset(0)  # its own cached reset: the same game again
    assert type(again._game) is _BreaksOnAWin
    registered = make("TicTacToe-v0")
    registered.reset(0)
    assert type(registered._game) is not _BreaksOnAWin


def _checkers(pieces: dict[tuple[int, int], str]) -> TextArenaEnv:
    env = make("Checkers-v0")
    env.reset(0)
    board = [["."] * 8 for _ in range(8)]
    for (row, col), piece in pieces.items():
        board[row][col] = piece
    env._game.state.game_state["board"] = board
    return env


def test_checkers_player_left_without_a_move_loses() -> None:
    # Red's last piece moves to where it is stuck: TextArena 0.7.4 then called set_winners wrongly (a crash)
    result = _checkers({(2, 1): "r", (0, 1): "b", (0, 5): "b"}).step("[2 1 1 0]")
    assert result.legal and result.done and result.rewards == {1: 1.0, 0: -1.0} and "crash" not in result.info
    # Red's move leaves Black's only piece stuck: TextArena did not check Black, who was asked to move anyway
    result = _checkers({(5, 2): "r", (6, 1): "b", (7, 0): "r", (7, 2): "r"}).step("[5 2 4 1]")
    assert result.legal and result.done and result.rewards == {0: 1.0, 1: -1.0}
    assert "Player 1 has no moves left" in str(result.info["end"])


def test_solving_the_fifteen_puzzle_is_a_win_not_a_crash() -> None:
    env = make("FifteenPuzzle-v0")
    env.reset(0)
    solved = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, None, 15]]  # one slide from solved
    env._game.board = solved
    copy = env.clone()  # verification and probing play copies: they must keep the repair
    result = env.step("[left]")  # 15 slides left into the gap: TextArena 0.7.4 crashed in set_winners
    assert result.legal and result.done and "crash" not in result.info, result
    assert result.rewards == {0: 1.0} and "solved" in str(result.info["end"])
    assert copy.step("[left]").rewards == {0: 1.0}


def test_ultimate_tic_tac_toe_with_every_square_taken_is_a_draw() -> None:
    env = make("UltimateTicTacToe-v0")
    env.reset(0)
    drawn = [["X", "O", "X"], ["X", "O", "O"], ["O", "X", "X"]]  # full, no three in a row
    boards = [[row[:] for row in drawn] for _ in range(9)]
    boards[4] = [["X", "O", "X"], [" ", "X", "O"], ["O", "X", "O"]]  # one square left; O there wins nothing
    env._game.state.game_state.update(board=boards, next_micro_board=None)
    result = env.step("[4 3]")  # TextArena 0.7.4 went on: no legal move left, a dead position
    assert result.legal and result.done and result.rewards == {0: 0.0, 1: 0.0}


def test_normalized_reward_maps_each_family_to_unit_interval() -> None:
    two, one = make("TicTacToe-v0"), make("2048-v0")
    assert [two.normalized_reward({0: 1.0, 1: -1.0}, p) for p in (0, 1)] == [1.0, 0.0]
    assert two.normalized_reward({0: 0.0, 1: 0.0}, 0) == 0.5
    assert one.normalized_reward({0: 0.25}, 0) == 0.25
    assert one.normalized_reward({0: -1.0}, 0) == 0.0  # Bandit/Secretary's invalid-move −1


def test_games_debug_prints_are_silenced(capsys: pytest.CaptureFixture[str]) -> None:
    env = make("NewRecruit-v0")
    env.reset(0)
    assert env.step("[Propose] CCAACCCC").legal
    assert capsys.readouterr().out == ""


def test_network_is_cut_in_env_tests() -> None:
    with pytest.raises(NetworkUsed):
        socket.create_connection(("pypi.org", 443))


def _mutable_parts(root: object) -> dict[int, object]:
    """Every list, dict, set and plain object reachable from ``root`` (by id; the objects kept alive)."""
    seen: dict[int, object] = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | type | enum.Enum) or obj is None:
            continue
        if type(obj).__name__ == "_BoardState":  # python-chess's own copy shares these undo snapshots
            continue
        if isinstance(obj, list | dict | set):
            seen[id(obj)] = obj
            stack.extend(obj.values() if isinstance(obj, dict) else obj)
            if isinstance(obj, dict):
                stack.extend(obj.keys())
        elif isinstance(obj, tuple):
            stack.extend(obj)
        elif hasattr(obj, "__dict__") and not callable(obj):
            seen[id(obj)] = obj
            stack.extend(vars(obj).values())
    return seen


@pytest.mark.parametrize(
    ("game_id", "moves"),
    [
        ("Othello-v0", ["[2, 3]", "[2, 2]", "[2, 1]"]),
        ("Chess-v0", ["[e2e4]", "[e7e5]", "[g1f3]"]),
        ("2048-v0", ["[Left]", "[Up]", "[Right]"]),
        ("TicTacToe-v0", ["[4]", "[0]", "[8]"]),
    ],
)
def test_clone_shares_no_mutable_state_and_replays_identically(game_id: str, moves: list[str]) -> None:
    env = make(game_id)
    env.reset(5)
    env.step(moves[0])
    probe = env.clone()
    shared = _mutable_parts(env._game).keys() & _mutable_parts(probe._game).keys()
    assert not shared, [type(_mutable_parts(env._game)[i]) for i in shared]
    assert probe._rng is not env._rng and probe._rng.getstate() == env._rng.getstate()
    # the clone, a clone of the clone and the original play the same moves to the same observations
    twice = probe.clone()
    seen = [[e.step(m).next.observation for m in moves[1:]] for e in (probe, twice)]
    assert seen[0] == seen[1]
    assert [env.step(m).next.observation for m in moves[1:]] == seen[0]


def test_clones_at_one_position_share_only_the_rng_snapshot() -> None:
    env = make("2048-v0")
    env.reset(1)
    first, second = env.clone(), env.clone()
    first.step("[Left]")  # draws a tile from first's generator only
    assert second._rng.getstate() == env._rng.getstate() != first._rng.getstate()
    assert second.step("[Left]").next == env.step("[Left]").next
    third = env.clone()  # after a step: a fresh snapshot, not the stale one
    assert third._rng.getstate() == env._rng.getstate()


def test_fast_result_constructors_equal_the_dataclasses() -> None:
    turn = adapter._make_turn(1, "x")
    assert type(turn) is Turn and turn == Turn(player=1, observation="x")
    result = adapter._going_on(turn)
    assert type(result) is StepResult and result == StepResult(legal=True, done=False, next=turn)
    assert result.info == {} and result.info is not adapter._going_on(turn).info


_BLOCKS = [
    "[GAME] Valid moves: [a], [b]",  # a whole message that is a list, first and later
    "[Player 0] [a]",
    "[GAME] Board\n . x .\nAvailable Moves: '[0]', '[1]'\n(continued)",
    "[GAME] Your options:\n  [x]\n  [y]\nthen the rest",
    "[GAME] İstanbul valid moves: [q]\nValid moves: [q], [r]",  # lower() lengthens 'İ'
    "[GAME] no list here",
    "[GAME] Legal actions: [1]",
]


# Each case: which _BLOCKS are joined (one message per block, in this order) and the text left after
# stripping, written out by hand. A list segment goes with the newline before it (after it at the very top).
_STRIPPED = [
    (
        [3, 6, 0, 2, 5, 1, 4],
        "then the rest\n[GAME] Board\n . x .\n(continued)\n[GAME] no list here\n"
        "[Player 0] [a]\n[GAME] İstanbul valid moves: [q]",
    ),
    ([4, 0], "[GAME] İstanbul valid moves: [q]"),
    (
        [6, 0, 5, 4, 1, 3, 2],
        "[GAME] no list here\n[GAME] İstanbul valid moves: [q]\n[Player 0] [a]\n"
        "then the rest\n[GAME] Board\n . x .\n(continued)",
    ),
    ([4, 6], "[GAME] İstanbul valid moves: [q]"),
    ([2, 0], "[GAME] Board\n . x .\n(continued)"),
    ([2, 5, 6, 0, 1], "[GAME] Board\n . x .\n(continued)\n[GAME] no list here\n[Player 0] [a]"),
    (
        [4, 0, 3, 2, 5, 6, 1],
        "[GAME] İstanbul valid moves: [q]\nthen the rest\n[GAME] Board\n . x .\n"
        "(continued)\n[GAME] no list here\n[Player 0] [a]",
    ),
    ([1, 3, 0], "[Player 0] [a]\nthen the rest"),
    ([2, 3], "[GAME] Board\n . x .\n(continued)\nthen the rest"),
    (
        [4, 2, 5, 1],
        "[GAME] İstanbul valid moves: [q]\n[GAME] Board\n . x .\n(continued)\n"
        "[GAME] no list here\n[Player 0] [a]",
    ),
    ([0, 3, 5, 6, 4], "then the rest\n[GAME] no list here\n[GAME] İstanbul valid moves: [q]"),
    ([6, 4, 3, 5], "[GAME] İstanbul valid moves: [q]\nthen the rest\n[GAME] no list here"),
]


@pytest.mark.parametrize(("blocks", "expected"), _STRIPPED)
def test_stripping_removes_exactly_the_move_lists(blocks: list[int], expected: str) -> None:
    texts = [_BLOCKS[i] for i in blocks]
    assert strip_move_lists("\n".join(texts)) == expected
    # message by message (how observations are built): the same text
    assert "".join(strip_move_lists("\n" + b) for b in texts)[1:] == expected


def test_observation_with_non_ascii_news_matches_whole_text_stripping() -> None:
    env = make("TicTacToe-v0")
    env.reset(0)
    env.step("[4]")
    texts = ["İİ valid moves: [3]\nValid moves: [1], [2]", "Current Board: x\nAvailable Moves: '[0]'", "ok"]
    messages = [(-1, text, ta.ObservationType.GAME_BOARD) for text in texts]
    env._game.get_observation = lambda: (0, list(messages))
    turn = env._turn()
    news = strip_move_lists("\n".join(f"[GAME] {text}" for text in texts))
    assert turn.observation == f"[GAME] {env.rules(0)}\n{news}"


def test_games_reset_in_parallel_threads_are_the_games_reset_one_at_a_time(monkeypatch):
    """Sokoban's room generator keeps its search in module globals (the best room so far): rollout
    threads (``--parallelism 2``) resetting at once handed each other's rooms over, so a training
    evaluation showed boards that were not the game's and differed from run to run (the shipped
    Sokoban-v0 run stopped with a ``ReplayMiss``). Every game is now reset as if alone."""
    from collections import OrderedDict
    from concurrent.futures import ThreadPoolExecutor

    def reset(seed: int) -> tuple[str, bytes | None]:
        env = make("Sokoban-v0")
        return env.reset(seed).observation, env.state_key()

    seeds = range(12)
    monkeypatch.setattr(adapter, "_RESET_CACHE", OrderedDict())  # generate, not copy a cached reset
    alone = [reset(seed) for seed in seeds]
    monkeypatch.setattr(adapter, "_RESET_CACHE", OrderedDict())
    with ThreadPoolExecutor(max_workers=2) as threads:
        together = list(threads.map(reset, seeds))
    assert together == alone
