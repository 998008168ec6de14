"""History games (``textarena.HISTORY_GAMES``): games whose legality depends on messages the player received
before their previous turn see every message since reset; every other game keeps prompt + news.

Each entry of the table is backed by a witness played on the real game: two move sequences after which the
player to move has the *same* prompt + news observation but different legal moves — so no harness can
decide legality from prompt + news there — and different full-history observations."""

from __future__ import annotations

import itertools
import random

import pytest

from autoharness.envs import list_games, make
from autoharness.envs.actions import random_legal_action
from autoharness.envs.registry import get_spec
from autoharness.envs.textarena import HISTORY_GAMES, TextArenaEnv


def _play(game: str, seed: int, moves: list[str], history: bool | None = None) -> TextArenaEnv:
    env = TextArenaEnv(get_spec(game), history=history)
    env.reset(seed)
    for ply, move in enumerate(moves):
        result = env.step(move)
        assert result.legal and not result.done, f"{game} ply {ply}: {move} ({result.reason})"
    return env


def _legal(env: TextArenaEnv, action: str) -> bool:
    return env.clone().step(action).legal


def _internal(env: TextArenaEnv) -> dict:
    return env._game.state.game_state  # the tests build witnesses from the dealt cards, as a player cannot


# -- the witnesses: (game, seed, moves of game a, moves of game b, probes) ------------------------------


def _chess(game: str) -> tuple:
    # Same board, same last two moves; in a the h1 rook went to g1 and back: no castling right.
    a = ["[g1f3]", "[a7a6]", "[h1g1]", "[a6a5]", "[g1h1]", "[a5a4]", "[e2e3]", "[b7b6]", "[f1e2]", "[b6b5]"]
    b = ["[g1f3]", "[a7a6]", "[e2e3]", "[a6a5]", "[f3g1]", "[a5a4]", "[g1f3]", "[b7b6]", "[f1e2]", "[b6b5]"]
    return game, 0, a, b, ["[e1g1]"]


def _indian_poker(game: str, seed: int = 0) -> tuple:
    # Round 1 (Player 1 opens) ends in a showdown for 50 chips or for 1; round 2's raises hide the bankroll.
    round_2 = ["[bet 1]", "[raise 1]", "[raise 1]"]
    a, b = ["[bet 50]", "[call]", *round_2], ["[bet 1]", "[call]", *round_2]
    return game, seed, a, b, [f"[raise {n}]" for n in range(1, 200)]


def _memory(game: str, seed: int = 0) -> tuple:
    board = _internal(_play(game, seed, []))["board"]
    cells = [(r, c) for r in range(len(board)) for c in range(len(board))]
    first = cells[0]
    twin = next(cell for cell in cells[1:] if board[cell[0]][cell[1]] == board[first[0]][first[1]])
    rest = [cell for cell in cells if cell not in (first, twin)]
    misses = [(p, q) for p, q in itertools.combinations(rest, 2) if board[p[0]][p[1]] != board[q[0]][q[1]]]

    def move(p: tuple[int, int], q: tuple[int, int]) -> str:
        return f"[{p[0]} {p[1]} {q[0]} {q[1]}]"

    m1, m2, m3 = (move(*pair) for pair in misses[:3])
    # a: Player 0 matches first+twin (and plays again), then three misses; b: the three misses only.
    probe = move(first, rest[-1])
    return game, seed, [move(first, twin), m1, m2, m3], [m1, m2, m3], [probe]


def _guesses(game: str, seed: int = 0) -> tuple:
    state = _internal(_play(game, seed, []))
    if "code_length" in state:  # Mastermind: distinct numbers 1..num_numbers
        length, top = state["code_length"], state["num_numbers"]
        codes = (list(code) for code in itertools.permutations(range(1, top + 1), length))
        secret = state["secret_code"]
        g1, g2, g3 = (c for c, _ in zip((c for c in codes if c != secret), range(3), strict=False))
        fmt = lambda code: "[" + " ".join(map(str, code)) + "]"  # noqa: E731
    else:  # GuessTheNumber
        env = _play(game, seed, [])
        target = env._game.game_number
        g1, g2, g3 = (n for n, _ in zip((n for n in range(1, 100) if n != target), range(3), strict=False))
        fmt = lambda n: f"[{n}]"  # noqa: E731
    return game, seed, [fmt(g1), fmt(g2)], [fmt(g3), fmt(g2)], [fmt(g1)]


def _high_society() -> tuple:
    # Auction 1 goes to Player 0 (a) or Player 1 (b) for an 11; auction 2 ties at 5: Player 1 rebids.
    return "HighSociety-v0", 0, ["[11]", "[1]", "[5]", "[5]"], ["[1]", "[11]", "[5]", "[5]"], ["[11]"]


WITNESSES = {
    "Chess-v0": lambda: _chess("Chess-v0"),
    "Chess-v0-long": lambda: _chess("Chess-v0-long"),
    "Chess-v0-blind": lambda: (
        "Chess-v0-blind",
        0,
        ["[e2e3]", "[a7a6]", "[d1f3]", "[a6a5]"],
        ["[e2e4]", "[a7a6]", "[d1f3]", "[a6a5]"],
        ["[e3e4]"],
    ),
    "Breakthrough-v0-blind": lambda: (
        "Breakthrough-v0-blind",
        0,
        ["[a2a3]", "[h7h6]", "[b2b3]", "[h6h5]"],
        ["[c2c3]", "[h7h6]", "[b2b3]", "[h6h5]"],
        ["[a3a4]"],
    ),
    "ConnectFour-v0-blind": lambda: (
        "ConnectFour-v0-blind",
        0,
        ["[col 0]"] * 6 + ["[col 1]"] * 2,
        ["[col 2]"] * 6 + ["[col 1]"] * 2,
        ["[col 0]"],
    ),
    **{g: (lambda g=g: _indian_poker(g)) for g in HISTORY_GAMES if g.startswith("IndianPoker")},
    **{g: (lambda g=g: _memory(g)) for g in HISTORY_GAMES if g.startswith("MemoryGame")},
    **{g: (lambda g=g: _guesses(g)) for g in HISTORY_GAMES if g.startswith(("Mastermind", "GuessTheNumber"))},
    "HighSociety-v0": _high_society,
}


def test_every_history_game_has_a_reason_and_a_witness() -> None:
    assert set(HISTORY_GAMES) <= {spec.id for spec in list_games()}
    assert set(WITNESSES) == set(HISTORY_GAMES)
    assert all(len(reason) > 40 for reason in HISTORY_GAMES.values())
    assert "Poker-v0" not in HISTORY_GAMES  # its news re-sends the table (chips, bets) every turn


@pytest.mark.parametrize("game", sorted(WITNESSES))
def test_prompt_and_news_cannot_decide_legality_but_the_history_can(game: str) -> None:
    game, seed, moves_a, moves_b, probes = WITNESSES[game]()
    news_a, news_b = _play(game, seed, moves_a, history=False), _play(game, seed, moves_b, history=False)
    assert news_a.current_observation() == news_b.current_observation()  # prompt + news: indistinguishable
    legal_a, legal_b = [_legal(news_a, p) for p in probes], [_legal(news_b, p) for p in probes]
    assert legal_a != legal_b  # ... yet the same move is legal in one game and illegal in the other
    full_a, full_b = _play(game, seed, moves_a), _play(game, seed, moves_b)  # the game's own setting
    assert full_a.current_observation() != full_b.current_observation()
    for full, news in ((full_a, news_a), (full_b, news_b)):  # the history ends with the same news
        tail = news.current_observation().split("\n[", 1)[1]
        assert full.current_observation().endswith(tail)
        assert len(full.current_observation()) > len(news.current_observation())


def test_a_late_observation_carries_an_early_announcement() -> None:
    """IndianPoker: the bankroll is announced when round 1 ends; in round 3 Player 1 still sees it."""
    env = make("IndianPoker-v0")
    env.reset(0)
    turns = [env.step(move) for move in ["[bet 50]", "[call]", "[fold]", "[bet 1]", "[raise 1]"]]
    assert all(t.legal and not t.done for t in turns)
    bankroll = "(Bankrolls P0:"
    observation = turns[-1].next.observation
    assert observation.count(bankroll) == 2 and "Player 1 -> [bet 50]" in observation
    assert observation.startswith("[GAME] You are Player 1 in a game of Indian Poker.")
    news = TextArenaEnv(get_spec("IndianPoker-v0"), history=False)
    news.reset(0)
    for move in ["[bet 50]", "[call]", "[fold]", "[bet 1]", "[raise 1]"]:
        last = news.step(move)
    assert bankroll not in last.next.observation  # prompt + news had lost it


EXPECTED_TICTACTOE = (  # recorded from the adapter before history games existed
    "[GAME] You are Player 0 in Tic Tac Toe.\n"
    "Your goal is to win three in a row (horizontally, vertically, or diagonally) on the board.\n"
    "On your turn, you should select the square number (0-8) you want to put your mark in next.\n"
    "For example, '[4]' places your mark in the center cell of the board.\n"
    "\n"
    "As Player 0, you will be 'O', while your opponent is 'X'.\n"
    "\n"
    "[Player 0] [4]\n"
    "[GAME] Player 0 placed their symbol (O) in cell 4.\n"
    "[GAME] Current Board:\n"
    "\n"
    " 0 | 1 | X \n"
    "---+---+---\n"
    " 3 | O | 5 \n"
    "---+---+---\n"
    " 6 | 7 | O \n"
    "\n"
    "[Player 1] [0]\n"
    "[GAME] Player 1 placed their symbol (X) in cell 0.\n"
    "[GAME] Current Board:\n"
    "\n"
    " X | 1 | X \n"
    "---+---+---\n"
    " 3 | O | 5 \n"
    "---+---+---\n"
    " 6 | 7 | O \n"
)


def test_other_games_keep_prompt_and_news() -> None:
    env = make("TicTacToe-v0")
    env.reset(0)
    for move in ["[8]", "[2]", "[4]"]:  # the first two moves are before Player 0's previous turn
        result = env.step(move)
    assert result.next.player == 1
    assert env.step("[0]").next.observation == EXPECTED_TICTACTOE


@pytest.mark.parametrize("game", ["Poker-v0", "Othello-v0", "Battleship-v0", "Mastermind-v0"])
def test_the_table_alone_decides(game: str) -> None:
    """``history=None`` follows ``HISTORY_GAMES``; forcing the other setting changes late observations."""
    rng = random.Random(3)
    default, other = make(game), TextArenaEnv(get_spec(game), history=game not in HISTORY_GAMES)
    turn, other_turn = default.reset(1), other.reset(1)
    assert turn == other_turn  # the first turn is the same either way
    differ = False
    for _ in range(8):
        action = random_legal_action(default, rng)
        result, other_result = default.step(action), other.step(action)
        if result.done:
            break
        full, news = (result, other_result) if game in HISTORY_GAMES else (other_result, result)
        assert full.next.observation.endswith(news.next.observation.split("\n[", 1)[1])
        differ |= full.next.observation != news.next.observation
    assert differ
