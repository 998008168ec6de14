"""TextArena (0.7.4) behind our ``Env`` protocol: all 145 paper games through their ``-raw`` variants.

What the agent sees each turn: the game's opening prompt (rules and action format), then every message that
reached this player since their previous turn (opponent's move, the board, ...), one ``[SENDER] text`` block
per message as in TextArena's own ``LLMObservationWrapper``, with move lists stripped (``hints``). Prompt +
news rather than the whole history keeps observations bounded over 1,000-step rollouts, and most games
re-send all that decides legality (the board, the hand, the bet to call) before every turn.

History games (``HISTORY_GAMES``, 19 of the 145, each with its reason): games whose legal moves depend on
messages the player received *before* their previous turn — the blind variants (Chess, Breakthrough,
ConnectFour: the board is never shown), Chess's castling rights, IndianPoker's bankroll, MemoryGame's
matched cards, Mastermind's and GuessTheNumber's no-repeat rule, HighSociety's hand after a tied auction.
There prompt + news cannot decide legality, so their observation is the prompt plus *every* message the
player received since ``reset``, rendered and stripped the same way (the news of each turn appended to the
last one's). Observations then grow with the game: up to 211 kB in three random Chess games of 1,122 plies
in all (TextArena's Chess never checks its ``max_turns``); building one copies that text once per step.

Illegal moves. TextArena signals one by calling ``state.set_invalid_move(reason)``, but resets
``made_invalid_move`` inside ``step`` and often returns an empty ``info``; so each game's state gets its
``set_invalid_move`` wrapped on the instance, recording the call. ``error_allowance`` (TextArena lets a
player resubmit once) is not used: the *first* rejected move ends our episode (``legal=False, done=True``)
with the outcome TextArena gives once the allowance is spent — two players: offender −1, other +1; one
player: the reward the game passes to ``set_invalid_move`` (its completion fraction), else −1.

Legal-move oracle (``legal_moves``, the optional ``envs.base.HasLegalMoves``): the moves TextArena lists
for the player to move, read from this turn's *unstripped* messages (``hints.listed_moves``) — for random
baselines, training opponents and tests, never part of an observation. 36 of the 145 games have one
(``ORACLE_GAMES``); Tak's three variants, SantoriniBaseFixed and Checkers print none (after the start), and
their moves are built from the game's state and its own move checks instead (``_MOVE_GENERATORS``:
candidates from the action text cannot reach them, or only at seconds per position); the others answer
None.

Games whose semantics differ, found by playing all 145:

* Snake, Surround (simultaneous moves): an action without a direction token kills the mover's snake without
  ``set_invalid_move``; we report it as illegal. (A legal move's effect shows once both players moved.)
* Cryptarithm passes ``add_observation`` its arguments in the wrong order; messages are unscrambled.
* Othello: a player with no legal placement must pass, and TextArena then accepts *any* action as the pass
  (``legal=True``); the board says "has no valid moves and must skip".
* Tak: a road win called ``set_winner`` with a keyword it does not take and crashed, so no Tak game ever
  had a result; the call is repaired on the state instance. TextArena accepts any stone spelled kind +
  player number (``[C10]``, ``[W21]``) and keeps that label on the board, where later moves must spell it;
  the rules name six stones (``F0 W0 C0 F1 W1 C1``): a move that leaves any other on the board is illegal
  here. Tak prints no move list: ``legal_moves`` builds the moves from the board (``envs.tak``).
* Stratego: the board drawn for the player to move went to both players (the one who had just moved saw
  the opponent's ranks); a Miner's defusal left a stale square in the Bomb owner's piece list, and the win
  check later crashed on it; Player 0's win by wiping out Player 1's movable pieces was skipped (a dead
  position followed). All three are repaired (``envs.stratego``).
* Checkers: "a player with no legal move loses" crashed (``set_winners`` called with a keyword it does not
  take) when the mover was stuck, and was not checked at all for the player to move next (a dead position);
  both are repaired (``envs.checkers``).
* FifteenPuzzle: solving the puzzle crashed (``set_winners``, which a one-player state lacks), so a solve
  ended without a result and scored 0; the adapter records it as the win (reward 1).
* UltimateTicTacToe: a mini-board filled without a winner never counts as closed, so a full board was not
  a draw and play went on with no legal move; the adapter ends it as a draw (``envs.ultimatetictactoe``).
* Minesweeper: stepping on a mine is reported through ``set_invalid_move`` but is a lost game, not a rule
  breach: ``legal=True, done=True`` with the game's reward (completion fraction).

Determinism. TextArena draws from the process-global ``random`` (``State`` even reseeds it). Each TextArena
module's ``random`` name is rebound to a router that forwards to the running environment's own
``random.Random`` (per thread), so games neither disturb each other nor the caller's ``random``, and the same
seed gives the same game in any order of creation. Outside our calls the router forwards to the global
module, so direct TextArena users see no change.

Rewards (``reward_range``, ``normalized_reward``): two-player games end with +1 win / 0 draw / −1 loss →
(r + 1) / 2. One-player games reward progress in [0, 1] (2048, puzzles, Sokoban, Minesweeper, Mastermind,
TowerOfHanoi...: completion fraction; Blackjack: share of hands won; Bandit: 1 for the best button, else
TextArena's "regret" of the pick; Secretary: 1 or 0); the −1 some give for an illegal move is clipped to 0.

Cut games (``cut_rewards``, the optional ``envs.base.HasCutScore``). A game we stop at our step cap has not
ended by its rules; it is scored by what TextArena itself gives at its own turn limit: one-player games end
there with ``set_outcome(reward=<completion>)``, the completion computed by the game's own
``_get_percentage_completion`` (2048, FifteenPuzzle, Sudoku, Minesweeper, ... — 13 of the 16 one-player
families; Cryptarithm's ``_progress``), so that function is called at the cut; two-player games end at their
turn limit in a draw (Checkers, Chopsticks, DontSayIt: ``set_draw``), so a cut is a draw. Bandit and
Secretary have no progress measure (and end within 20 turns by their own limit): None.

Games that crash (raise) inside ``step``. What the game did decides, never the exception's type: the
position before the move is rebuilt by replaying the game's accepted moves from its seed on a fresh env
(only when a crash happens: the normal path pays nothing), and compared with the position after the crash
(``position_key``).

* Unchanged: the game could not read the move (Chess: python-chess's ``InvalidMoveError`` on ``[e1e1]``;
  Stratego: ``TypeError`` on a move whose source square is a lake, ``[F3 G1]``-style). The move is illegal,
  the exception text the reason, ``info["crash"] = True``.
* Changed: the game broke after applying a legal move (Checkers' ``set_winners`` and Stratego's win check
  did, before their repairs above). Not the mover's fault: the move counts as legal and the game ends with
  no result (``done``, ``rewards`` None, ``info["crash"]``).

Positions (``position_key``): a hashable digest of the game's whole state — every attribute of the
TextArena env and its ``State`` except the message log and bookkeeping of the last step (observations,
logs, step info, the invalid-move flags, our hook), objects by their ``__dict__`` and slots (never by a
``repr`` that shows a memory address: RushHour's slotted cars) — so two spellings of one move (``[col 3]``,
``[col 03]``) lead to equal keys and different moves to different ones (``envs.actions`` compares moves
by it).

States (``state_key``): stricter than a position — a hash of the game's entire Python state (message
queues, turn counters, generator states; dicts and sets in iteration order, values typed), so equal keys
mean every move plays out the same; ``envs.actions`` reuses a position's probed legal moves by it.
``used_generator`` says whether the game drew from this env's generator since it was copied.

``StepResult.info`` carries ``end``: TextArena's own reason text when a game ends normally. Slow resets
are cached per (game, seed). The debug lines some games ``print`` are silenced (``print`` is rebound in
game modules, so threads and the caller's stdout are untouched): ``autoharness show`` prints exactly the
observation.

Speed (``benchmarks/bench_envs.py``). Each message is rendered and stripped once per process (``_BLOCKS``),
``Turn``/``StepResult`` are built through their slots, and the generator router caches bound methods: a
step costs ~2-4 µs over TextArena's. ``clone()`` copies with ``_copy`` rather than ``deepcopy``: the same
independent copy, 4-6x faster, and the copy steps as fast as the original. ``scratches()`` makes many copies
of one position from one pickle of the game (~2x cheaper again on large boards), where the unpickled game is
exactly the game.
"""

from __future__ import annotations

import copy
import copyreg
import dataclasses
import functools
import hashlib
import io
import pickle
import random
import re
import sys
import threading
import time
import types
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any, Self

import textarena as ta

from ..errors import EnvError
from . import checkers, stratego, tak, ultimatetictactoe
from .base import StepResult, Turn
from .hints import listed_moves, strip_move_lists, strips_prompt
from .registry import GameSpec

_SIMULTANEOUS_BODIES = {"Snake": "snakes", "Surround": "players"}
"""Simultaneous-move families → the ``game_state`` key holding each player's body (``.death_reason``)."""

_NOT_A_BREACH = {"Minesweeper": re.compile(r"^You hit a mine")}
"""Families that report a lost game through ``set_invalid_move``: the reason text that marks it."""

_BREACH_AFTER_STEP: dict[str, Callable[[Any], str | None]] = {"Tak": tak.made_up_stone}
"""Families whose game accepts moves its rules forbid: family → what, in the game after an accepted move,
makes it illegal after all (Tak: a stone the rules do not name)."""


def _fifteen_puzzle_repair(game: Any) -> None:
    """FifteenPuzzle declares a solved puzzle with ``set_winners``, which its ``SinglePlayerState`` lacks: the
    winning move crashed and the game ended without a result (a solve scored 0). Here it is the win the
    state's own ``set_outcome`` records: reward 1, the puzzle 100% complete."""
    state = getattr(game, "state", None)
    if state is None or hasattr(type(state), "set_winners"):
        return  # (a copy's instance attribute still points at the original: set again, as for every copy)
    set_outcome = type(state).set_outcome.__get__(state)
    state.set_winners = lambda player_ids, reason: set_outcome(reward=1.0, reason=reason)


_REPAIRS: dict[str, Callable[[Any], None]] = {
    "Tak": tak.repair,
    "Stratego": stratego.repair,
    "Checkers": checkers.repair,
    "FifteenPuzzle": _fifteen_puzzle_repair,
}
"""Families with a defect repaired on the game instance: family → the repair, run on a freshly built game
before its ``reset`` and again after it and after every copy (a copy would keep the original's)."""

_FINISHES: dict[str, Callable[[Any], bool]] = {
    "Stratego": stratego.finish,
    "Checkers": checkers.finish,
    "UltimateTicTacToe": ultimatetictactoe.finish,
}
"""Families whose game misses one of its own ends: family → what ends it after an accepted move (whether)."""


def _santorini_moves(game: Any) -> list[str]:
    """SantoriniBaseFixed's own list of the mover's moves (``_get_valid_moves``: what its prompt shows at the
    start, and what ``step`` checks), computed for the position now."""
    return [move for move in game._get_valid_moves(game.state.current_player_id).split(", ") if move]


def _chopsticks_moves(game: Any) -> list[str]:
    """Chopsticks' moves by its ``step``: ``[attack M O]`` from a live hand of the mover's to a live hand of
    the opponent's (one spelling per position: attacks that leave hand O with the same count are one
    move), and ``[split L R]`` for every ``L + R`` equal to the mover's total but the present ``[L, R]`` —
    counts of 5 and more (a hand of 5 or more lives on) and an empty hand included, which no message need
    ever show."""
    state = game.state
    mover = state.current_player_id
    mine, theirs = state.game_state["hands"][mover], state.game_state["hands"][1 - mover]
    attacks: dict[tuple[int, int], str] = {}
    for m in (0, 1):
        for o in (0, 1):
            if mine[m] and theirs[o]:
                count = mine[m] + theirs[o]
                attacks.setdefault((o, 0 if count >= 5 else count), f"[attack {m} {o}]")
    total = sum(mine)
    splits = [f"[split {left} {total - left}]" for left in range(total + 1) if [left, total - left] != mine]
    return [*attacks.values(), *splits]


_MOVE_GENERATORS: dict[str, Callable[[Any], list[str]]] = {
    "Tak": tak.legal_moves,
    "SantoriniBaseFixed": _santorini_moves,
    "Checkers": checkers.legal_moves,
    "Chopsticks": _chopsticks_moves,
}
"""Families whose legal moves ``legal_moves`` builds from the game's state, checked by the game's own rules
code, because candidates built from the text cannot reach them: Tak's (``envs.tak``), Santorini's
``[N1C1C2B2]`` (worker, source, destination, build: ~1 in 10,000 candidates is legal), Chopsticks' splits
into counts the text never shows (``[split 0 6]``; its messages "it goes from 3 to 4" also read as a
stated range of numbers); or reach them only slowly: Checkers' 4,096 candidates probed on copies took
seconds a position (``envs.checkers``)."""

ORACLE_GAMES = frozenset(
    {
        *("Chess-v0", "Chess-v0-long", "Crusade-v0", "FifteenPuzzle-v0", "ReverseTicTacToe-v0"),
        *("KuhnPoker-v0", "KuhnPoker-v0-extreme", "KuhnPoker-v0-long", "KuhnPoker-v0-medium"),
        "KuhnPoker-v0-short",
        *("Othello-v0", "Othello-v0-big", "Othello-v0-huge", "Othello-v0-small", "Othello-v0-tiny"),
        *(f"PigDice-v0{suffix}" for suffix in ("", "-long", "-short")),
        *(f"PigDice-v0-{target}" for target in range(50, 501, 50)),
        *("SimpleTak-v0", "SimpleTak-v0-extreme", "SimpleTak-v0-large", "SimpleTak-v0-medium"),
        *("SpiteAndMalice-v0", "Stratego-v0", "TicTacToe-v0", "WildTicTacToe-v0"),
    }
)
"""The 36 of the 145 games that list the mover's legal moves every turn, which ``legal_moves`` reads.

Found by playing all 145 (``tests/envs/test_legal_moves.py`` re-checks the set and that every listed move
is accepted). Not in it: the games that print no list (TowerOfHanoi, Checkers, Sudoku, Chess-v0-blind,
Othello-v0-hard, ...), and the ones whose list is not the legal moves: FrozenLake (every direction, even
off the board), Sokoban (``up, down, left, right``, unbracketed), Golf and IndianPoker (templates such as
``[swap X Y]``, ``[bet X]``), SantoriniBaseFixed (only in the opening prompt, stale by the second player's
turn: ``legal_moves`` asks the game's own move generator instead, as it builds Tak's)."""

_CHESS_CASTLING = (
    "castling rights: whether [e1g1]/[e8c8]... is legal depends on whether that king or rook ever moved, "
    "and the board shown each turn (no FEN) cannot tell"
)
_BLIND = "blind: the board is never shown; which squares are occupied follows only from every earlier move"
_INDIAN_POKER = (
    "'Insufficient chips': a bet or raise must not cost more than the mover's bankroll, which is only "
    "announced when a round ends ('Bankrolls P0:..'; not at all after a tied showdown), and the round's "
    "earlier bets are announced once, to the turn right after each"
)
_MEMORY = (
    "a matched card may not be picked again; the board showing matched cards is sent only when a match is "
    "made, so a match made before the player's previous turn is out of view"
)
_NO_REPEATS = "a guess may not repeat an earlier one ('already guessed'); each turn shows only the last guess"
HISTORY_GAMES: dict[str, str] = {
    "Chess-v0": _CHESS_CASTLING,
    "Chess-v0-long": _CHESS_CASTLING,
    "Chess-v0-blind": _BLIND,
    "Breakthrough-v0-blind": _BLIND,
    "ConnectFour-v0-blind": _BLIND + " (a column is full after 6 drops into it)",
    **dict.fromkeys(
        ("IndianPoker-v0", "IndianPoker-v0-short", "IndianPoker-v0-medium", "IndianPoker-v0-long"),
        _INDIAN_POKER,
    ),
    "IndianPoker-v0-extreme": _INDIAN_POKER,
    **dict.fromkeys(("MemoryGame-v0", "MemoryGame-v0-medium", "MemoryGame-v0-hard"), _MEMORY),
    **dict.fromkeys(("Mastermind-v0", "Mastermind-v0-hard", "Mastermind-v0-extreme"), _NO_REPEATS),
    **dict.fromkeys(("GuessTheNumber-v0", "GuessTheNumber-v0-hardcore"), _NO_REPEATS),
    "HighSociety-v0": (
        "after a tied auction ('Tie - bids returned. Rebid!') the player's remaining money cards, which "
        "decide which bids are legal, were last shown before their previous turn"
    ),
}
"""Games whose legal moves depend on messages the player received *before* their previous turn → why.

Their observation is the opening prompt plus every message the player received since ``reset`` (module
docstring); every other game's is prompt + news. Found by reading each game's ``set_invalid_move`` conditions
in TextArena 0.7.4 against what its messages show, and by playing: for each entry,
``tests/envs/test_history.py`` plays two games whose prompt + news observations are equal but whose legal
moves differ. Not in it, although a stand-in model suspected them: Poker (every turn's news ends with the
table: pot, current bet, each player's chips and bet, all that ``[Check]``/``[Bet N]``/``[Raise N]`` depend
on)."""

_PROGRESS_METHODS = ("_get_percentage_completion", "_progress", "_calculate_progress")
"""One-player TextArena games' own completion measures, the reward they give at their turn limit."""

_GAME_ID = ta.GAME_ID
_PROMPT = ta.ObservationType.PROMPT
_OBSERVATION_TYPE = ta.ObservationType

_BLOCKS: dict[tuple[Any, str], str] = {}
"""``(sender name, text)`` → ``strip_move_lists("\n[sender] text")``: one message as it appears in an
observation, stripped. Observations are the concatenation of these pieces minus the first newline — exactly
``strip_move_lists`` of the joined text, since a move list never spans two messages (each block starts
with ``[`` on its own line, a list's continuation lines are indented) and with a newline in front no list
starts at position 0 (the one place the stripping rule differs). Messages repeat (prompts, action echoes,
boards of small games), so most blocks are stripped once per process. Shared by all envs and threads
(values are strings; a racing duplicate insert is harmless); emptied when it holds ``_BLOCKS_MAX_CHARS``."""
_BLOCKS_MAX_CHARS = 8_000_000
_blocks_chars = 0


def _fast_constructors() -> tuple[Callable[[int, str], Turn], Callable[[Turn], StepResult]]:
    """``Turn(player, observation)`` and ``StepResult(legal=True, done=False, next=turn)`` at ~40% of the
    cost: a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__`` (1.8 µs for the
    pair, a sixth of a TicTacToe step); the slots' own setters do the same work directly. Used only while
    the fields are exactly these (checked here; otherwise the dataclasses' own constructors)."""
    turn_fields = [f.name for f in dataclasses.fields(Turn)]
    step_fields = [f.name for f in dataclasses.fields(StepResult)]
    if turn_fields != ["player", "observation"] or step_fields != [
        "legal",
        "done",
        "reason",
        "rewards",
        "next",
        "info",
    ]:
        return Turn, lambda turn: StepResult(legal=True, done=False, next=turn)
    new = object.__new__
    set_player, set_observation = (Turn.__dict__[name].__set__ for name in turn_fields)
    set_legal, set_done, set_reason, set_rewards, set_next, set_info = (
        StepResult.__dict__[name].__set__ for name in step_fields
    )

    def make_turn(player: int, observation: str) -> Turn:
        turn = new(Turn)
        set_player(turn, player)
        set_observation(turn, observation)
        return turn

    def going_on(turn: Turn) -> StepResult:
        result = new(StepResult)
        set_legal(result, True)
        set_done(result, False)
        set_reason(result, None)
        set_rewards(result, None)
        set_next(result, turn)
        set_info(result, {})
        return result

    return make_turn, going_on


_make_turn, _going_on = _fast_constructors()

_ATOMIC = frozenset({int, str, float, bool, type(None), bytes, _OBSERVATION_TYPE})
"""Types whose values ``deepcopy`` returns as they are: a tuple of them is shared by a copy anyway."""


def _keep(text: str) -> str:
    return text


class _Routes(dict[str, Any]):
    """One generator's methods by name, looked up once (bound methods are rebuilt on every access).

    ``used``: whether the game has asked for anything of ``random`` through these routes (a fresh set per
    reset and per copy: ``TextArenaEnv.used_generator``)."""

    __slots__ = ("rng", "used")

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng
        self.used = False

    def __missing__(self, name: str) -> Any:
        self.used = True
        rng = self.rng
        if name[0] != "_" and hasattr(rng, name):
            self[name] = method = getattr(rng, name)
            return method
        return getattr(random, name)  # Random, SystemRandom, ...: the module's own, looked up each time


class _RandomRouter(threading.local):
    """Stands in for the ``random`` module inside TextArena, forwarding to the active env's generator."""

    active: _Routes | None = None

    def __getattr__(self, name: str) -> Any:
        routes = self.active
        if routes is not None:
            return routes[name]
        return getattr(random, name)  # everything when no env is running


_ROUTER = _RandomRouter()
_adopted_module_count = 0


def _silent(*args: object, **kwargs: object) -> None:
    """Replaces ``print`` inside game modules (RushHour, FrozenLake, NewRecruit print debug lines)."""


def _adopt_textarena_modules() -> bool:
    """Rebind ``random`` in every TextArena module imported so far, and ``print`` in its game modules
    (games are imported lazily by ``ta.make``). Returns whether any module was new."""
    global _adopted_module_count
    if len(sys.modules) == _adopted_module_count:
        return False
    adopted = False
    for name, module in list(sys.modules.items()):
        if name.startswith("textarena") and getattr(module, "random", None) is random:
            module.random = _ROUTER  # type: ignore[attr-defined]
            adopted = True
        if name.startswith("textarena.envs.") and name != "textarena.envs.registration":
            module.print = _silent  # type: ignore[attr-defined]
    _adopted_module_count = len(sys.modules)
    return adopted


_RESET_CACHE: OrderedDict[tuple[str, int, Any], tuple[Any, random.Random]] = OrderedDict()
"""Freshly reset games by (id, seed, the env's own factory or None for TextArena's), for slow generators
only (Sokoban-v0-medium up to ~20 s, Sudoku-v0-hard ~6 s; training resets the same seeds every iteration).
Only slow ones: a copy costs time too. Copies are made with ``_copy``, which unlike ``deepcopy`` leaves the
game stepping as fast as a freshly built one. The factory is in the key: a user's game under a registered id
(``envs.user``, a test's) is another game; keyed by id and seed alone it was handed the registered game's
reset whenever that had been slow (under load, any)."""
_SLOW_RESET = 0.05  # seconds
_RESET_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()
_GENERATE_LOCK = threading.Lock()
"""Held while a game is built and reset: TextArena's generators may keep their search in module globals
(Sokoban's ``reverse_playing``: the explored states and the best room so far), so two rollout threads
resetting at once handed each other's rooms over, a board shown that was not the game's (a Sokoban training
evaluation differed from run to run). One reset at a time; a cached reset takes no lock."""


_SHARED_ATTRIBUTES = frozenset({"_spec", "_factory", "_own_factory", "_strip"})
"""``TextArenaEnv`` attributes a clone shares with its original: set once in ``__init__``, never changed."""


class TextArenaEnv:
    """One TextArena game implementing ``autoharness.envs.Env``."""

    def __init__(
        self,
        spec: GameSpec,
        *,
        keep_move_lists: bool = False,
        factory: Callable[[], Any] | None = None,
        module: Any = None,
        history: bool | None = None,
    ) -> None:
        """``factory`` builds the TextArena game (default: ``ta.make`` of the id's ``-raw`` variant): a
        user's ``textarena.Env`` subclass or factory (``envs.user``), whose ``module`` then draws from this
        env's seeded generator too, like TextArena's own modules. ``history``: whether observations carry
        every message since ``reset`` rather than prompt + news; None = the game's entry in
        ``HISTORY_GAMES``."""
        self.id = spec.id
        self._own_factory = factory
        self._factory = factory or functools.partial(ta.make, f"{spec.id}-raw")
        if module is not None and getattr(module, "random", None) is random:
            module.random = _ROUTER
        self._spec = spec
        self._keep_move_lists = keep_move_lists
        self._strip = _keep if keep_move_lists else strip_move_lists
        self.num_players = spec.players
        self.reward_range = (-1.0, 1.0) if spec.players == 2 else (0.0, 1.0)
        self._family = spec.id.split("-", 1)[0]
        self._body_key = _SIMULTANEOUS_BODIES.get(self._family)
        self._game: Any = None  # the textarena env; None until reset
        self._rng = random.Random()
        self._routes = _Routes(self._rng)
        self._rng_state: tuple[Any, ...] | None = None
        """``_rng.getstate()`` while known current (12 µs to take; clones at one position share it)."""
        self._prompts: dict[int, str] = {}
        self._invalid: list[tuple[str, float | None]] = []
        self._player = 0
        self._done = True
        self._news: list[Any] = []
        """This turn's TextArena messages as produced (unstripped): what ``legal_moves`` reads."""
        self._observation = ""
        """What the player to move sees now (``current_observation``)."""
        self._seed = 0
        self._history: list[str] = []
        """The moves this game accepted since ``reset(_seed)``: replayed to rebuild the position before a
        crash (see the module docstring)."""
        self._history_games = spec.id in HISTORY_GAMES if history is None else history
        self._received: dict[int, str] = {}
        """History games: player → every message they received since ``reset``, rendered and stripped
        (the observation minus the prompt)."""

    # -- protocol -------------------------------------------------------------------------------------

    def reset(self, seed: int) -> Turn:
        key = (self.id, seed, self._own_factory)
        with _CACHE_LOCK:
            cached = _RESET_CACHE.get(key)
        if cached is None:
            self._rng = random.Random(seed)
            self._routes = _Routes(self._rng)
            self._rng_state = None
            previous, _ROUTER.active = _ROUTER.active, self._routes
            try:
                with _GENERATE_LOCK:  # one generation at a time (see _GENERATE_LOCK)
                    started = time.perf_counter()  # the generation's own time, not the wait
                    game = self._factory()
                    if _adopt_textarena_modules():  # first use of its modules: build again, now routed
                        game = self._factory()
                    repair = _REPAIRS.get(self._family)
                    if repair is not None:
                        repair(game)
                    game.reset(num_players=self.num_players, seed=seed)
            finally:
                _ROUTER.active = previous
            if time.perf_counter() - started > _SLOW_RESET:
                with _CACHE_LOCK:
                    _RESET_CACHE[key] = (_copy(game, {}), copy.deepcopy(self._rng))
                    while len(_RESET_CACHE) > _RESET_CACHE_SIZE:
                        _RESET_CACHE.popitem(last=False)
        else:
            game, self._rng = _copy(cached[0], {}), copy.deepcopy(cached[1])
            self._routes = _Routes(self._rng)
            self._rng_state = None
        self._game = game
        self._prompts = {}
        self._received = {}
        self._done = False
        self._seed = seed
        self._history = []
        self._hook_invalid_moves()
        turn = self._turn()
        self._observation = turn.observation
        return turn

    def step(self, action: str) -> StepResult:
        if self._done:
            raise EnvError(f"{self.id}: step() after the game ended; call reset() first")
        game, player = self._game, self._player
        self._invalid.clear()
        body_key = self._body_key
        self._rng_state = None  # the game may draw from _rng
        previous, _ROUTER.active = _ROUTER.active, self._routes
        try:
            done, _ = game.step(action)
        except Exception as exc:
            _ROUTER.active = previous
            return self._crashed(player, action, exc)
        finally:
            _ROUTER.active = previous
        if self._invalid:
            reason, reward = self._invalid[0]
            breach = _NOT_A_BREACH.get(self._family)
            if breach is not None and breach.match(reason):
                return self._end({player: reward if reward is not None else 0.0}, {"end": reason})
            return self._illegal(player, reason, reward)
        breach = _BREACH_AFTER_STEP.get(self._family)
        if breach is not None:
            found = breach(game)
            if found is not None:
                return self._illegal(player, f"{found!r} is not a stone of this game", None)
        finish = _FINISHES.get(self._family)
        if finish is not None and not done:
            done = finish(game)
        if body_key is not None:
            body = game.state.game_state[body_key][player]
            if getattr(body, "death_reason", None) == "invalid move":
                return self._illegal(player, "no direction token such as '[up]' in the action", None)
        if done:
            rewards = game.state.rewards
            if rewards is None:  # TextArena ended the game without an outcome: its fault, not the mover's
                return self._broken("TextArena ended the game without a result")
            reason = game.state.game_info.get(player, {}).get("reason")
            if isinstance(reason, list):  # Stratego's flag capture gives its reason as a one-line list
                reason = " ".join(map(str, reason))
            return self._end({pid: float(r) for pid, r in rewards.items()}, {"end": reason} if reason else {})
        self._history.append(action)
        turn = self._turn()
        self._observation = turn.observation
        return _going_on(turn)

    def clone(self) -> Self:
        return copy.deepcopy(self)

    def scratch(self) -> Self:
        """A copy to try moves on (``envs.actions`` probes): the same position, without TextArena's
        message log (``State.logs``, written by ``add_observation`` and read by nothing in the games), which
        grows with every ply and would dominate the copy's cost in long games."""
        if self._game is None:
            return self.clone()
        state = self._game.state
        memo: dict[int, Any] = {id(state.logs): []}
        return copy.deepcopy(self, memo)

    def scratches(self) -> Callable[[], Self]:
        """A maker of ``scratch`` copies of the current position, for trying many moves from it
        (``envs.actions`` enumerations): the game is pickled once and each copy unpickled, ~2x cheaper
        than a deep copy on large boards (Battleship-v0-extreme, Tak-v0). Only when the unpickled game is
        the game exactly (equal ``_exact`` renderings: pickling and deep copying may differ for a class
        with its own copy hooks); otherwise the maker is ``scratch`` itself."""
        game = self._game
        if game is None:
            return self.scratch
        state = game.state
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, {id(state.logs): "logs", id(state.set_invalid_move): "hook"}).dump(game)
            blob = buffer.getvalue()
            exact = _exact(_unpickle(blob), {}) == _exact(game, {})
        except Exception:  # anything pickle or _exact refuses: deep copies, as ever
            exact = False
        if not exact:
            return self.scratch

        def scratch() -> Self:
            return copy.deepcopy(self, {id(game): _unpickle(blob)})  # __deepcopy__ hooks the copy

        return scratch

    def current_observation(self) -> str:
        """What the player to move sees now: the last ``Turn.observation`` this env returned."""
        return self._observation

    def position_key(self) -> Any:
        """A hashable digest of the current position (see the module docstring): equal for two games in
        the same state whatever moves and spellings led there; None before ``reset``."""
        return None if self._game is None else _digest(self._game, {})

    def state_key(self, generator: bool = True) -> bytes | None:
        """A key equal for two envs only when every action plays out the same on both (``envs.actions``
        memoizes legal-move sets by it): a hash of the game's *entire* state — message queues and flags
        included, values typed, dicts and sets in their iteration order, ``random.Random`` objects by their
        state — and the player to move; with ``generator`` also this env's own generator. None when the
        game is over or its state holds something that cannot be compared exactly (``_exact``).

        Stricter than ``position_key`` (which says when two moves reach the same position): equal keys
        mean the same Python state, up to what no step reads (TextArena's message log ``State.logs``, read
        by no game; our ``set_invalid_move`` hook, the same code on every env; how the position was reached,
        which only the crash check's replay uses — ``envs.actions`` does not reuse work where a step
        crashed)."""
        if self._game is None or self._done:
            return None
        try:
            digest = _exact(self._game, {})
        except _Inexact:
            return None
        if generator:  # taken afresh, not ``_rng_state``: a key must never be stale
            digest = (digest, self._rng.getstate())
        text = repr((self.id, self._player, digest)).encode()
        return hashlib.blake2b(text, digest_size=32).digest()

    def used_generator(self) -> bool:
        """Whether the game asked this env's random generator for anything since this env was reset or
        copied (on a ``scratch`` copy: during the moves tried on it)."""
        return self._routes.used

    def normalized_reward(self, rewards: dict[int, float], player: int) -> float:
        low, high = self.reward_range
        return min(1.0, max(0.0, (rewards[player] - low) / (high - low)))

    def legal_moves(self) -> list[str] | None:
        """The moves TextArena itself lists for the player to move this turn, or None (see ``ORACLE_GAMES``).

        An oracle for baselines, opponents and tests, never shown to the agent: the bracketed moves inside
        the very list segments ``hints.strip_move_lists`` removes, read from the unstripped messages of this
        turn (the last message that holds a list). None when the game is over, when the game is not in
        ``ORACLE_GAMES``, or when this turn's messages hold no list. Tak, SantoriniBaseFixed, Checkers and
        Chopsticks print no list: their moves are built from the game's state (``_MOVE_GENERATORS``)."""
        if self._done:
            return None
        generator = _MOVE_GENERATORS.get(self._family)
        if generator is not None:
            return generator(self._game)
        if self.id not in ORACLE_GAMES:
            return None
        roles = self._game.state.role_mapping
        found = None
        for message in self._news:
            sender, text, kind = _unpack(message)
            if kind is not _PROMPT:
                name = "GAME" if sender == _GAME_ID else roles.get(sender, sender)
                moves = listed_moves(f"\n[{name}] {text}")
                if moves is not None:
                    found = moves
        return found

    def cut_rewards(self) -> dict[int, float] | None:
        """The game's own end-of-game rewards for the position reached (module docstring: cut games)."""
        if self._game is None or self._done:
            return None
        if self.num_players == 2:
            return {0: 0.0, 1: 0.0}  # TextArena's turn-limit outcome in two-player games: a draw
        game = self._game
        while not hasattr(game, "state") and hasattr(game, "env"):  # through any wrapper
            game = game.env
        for name in _PROGRESS_METHODS:
            method = getattr(game, name, None)
            if callable(method):
                previous, _ROUTER.active = _ROUTER.active, self._routes
                try:
                    return {0: min(1.0, max(0.0, float(method())))}
                except Exception:  # a measure that cannot be computed here is no measure
                    return None
                finally:
                    _ROUTER.active = previous
        return None

    def turn_limit(self) -> int | None:
        """The game's own turn limit (TextArena's ``max_turns``; None: it has none, or before ``reset``): a
        match that reaches it ends by the game's rules, scored as the game scores it there (one-player
        games: their completion), which reports say beside the figures it enters."""
        game = self._game
        while game is not None and not hasattr(game, "state") and hasattr(game, "env"):
            game = game.env
        limit = getattr(getattr(game, "state", None), "max_turns", None)
        return limit if isinstance(limit, int) and limit > 0 else None

    def rules(self, player: int = 0) -> str:
        """``player``'s opening prompt in the current game: rules and action format, no move list."""
        if player in self._prompts:
            return self._prompts[player]
        if self._game is None:
            raise EnvError(f"{self.id}: rules() before reset()")
        pending = map(_unpack, self._game.state.observations.get(player, []))  # not yet this player's turn
        prompts = [text for _, text, kind in pending if kind is ta.ObservationType.PROMPT]
        return self._rules_from(prompts[0]) if prompts else ""

    # -- internals ------------------------------------------------------------------------------------

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        new = object.__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key == "_rng":
                state = self._rng_state
                if state is None:
                    state = self._rng_state = value.getstate()
                value = random.Random.__new__(random.Random)
                value.setstate(state)
            elif key == "_routes":
                value = _Routes(new._rng)  # ``_rng`` comes first in ``__dict__``: already copied
            elif key == "_rng_state" or key in _SHARED_ATTRIBUTES:
                pass  # immutable: shared (deepcopy of a frozen dataclass or a partial is slow)
            else:
                value = _copy(value, memo)
            object.__setattr__(new, key, value)  # attribute by attribute: keeps CPython's inline values
        if new._game is not None:
            new._hook_invalid_moves()  # the copied hook still reports to the original env
        return new

    def _hook_invalid_moves(self) -> None:
        state = self._game.state
        original = type(state).set_invalid_move.__get__(state)
        log = self._invalid

        def set_invalid_move(*args: Any, **kwargs: Any) -> Any:
            # Cryptarithm passes (reward, reason) positionally: take the text as reason, the number as reward.
            values = [*args, *kwargs.values()]
            reason = next((v for v in values if isinstance(v, str)), "")
            numbers = (float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool))
            reward = next(numbers, None)
            log.append((reason, reward))
            return original(*args, **kwargs)

        state.set_invalid_move = set_invalid_move
        repair = _REPAIRS.get(self._family)
        if repair is not None:
            repair(self._game)

    def _illegal(self, player: int, reason: str, reward: float | None, crash: bool = False) -> StepResult:
        if self.num_players == 2:
            rewards = {player: -1.0, 1 - player: 1.0}
        else:
            rewards = {player: reward if reward is not None else -1.0}
        self._done = True
        info: dict[str, object] = {"crash": True} if crash else {}
        return StepResult(legal=False, done=True, reason=reason, rewards=rewards, info=info)

    def _crashed(self, player: int, action: str, exc: Exception) -> StepResult:
        """Classify a crash inside the game's ``step`` by what the game did (module docstring)."""
        if self._position_before_crash() == self.position_key():
            # Nothing changed: the game could not even read this action (Chess's InvalidMoveError on
            # '[e1e1]', Stratego's TypeError on a lake square). Not a legal move; the crash is the reason.
            return self._illegal(
                player, f"the game could not process this action ({exc!r})", None, crash=True
            )
        # The game changed its state and then broke (a bug in its end-of-move checks, say): TextArena's
        # fault, not the mover's. The game ends with no outcome and the move is not called illegal.
        return self._broken(f"TextArena crashed after this move ({exc!r}); the game ends without a result")

    def _position_before_crash(self) -> Any:
        """The position before the move that crashed: the accepted moves replayed from the seed on a fresh
        env (a crash is rare; a snapshot before every step would slow every game down)."""
        replay = TextArenaEnv(
            self._spec, keep_move_lists=self._keep_move_lists, factory=self._own_factory, history=False
        )
        replay.reset(self._seed)
        for move in self._history:
            if replay.step(move).done:
                return None  # the replay diverged: no trustworthy "before"
        return replay.position_key()

    def _broken(self, end: str) -> StepResult:
        """The game broke down after a move it did not reject: it ends with no result, the move not blamed."""
        self._done = True
        return StepResult(legal=True, done=True, info={"crash": True, "end": end})

    def _end(self, rewards: dict[int, float], info: dict[str, object]) -> StepResult:
        self._done = True
        return StepResult(legal=True, done=True, rewards=rewards, info=info)

    def _rules_from(self, prompt: str) -> str:
        return self._strip(prompt) if strips_prompt(self.id) else prompt

    def _turn(self) -> Turn:
        """The player to move and what they see (consumes their pending TextArena messages)."""
        game = self._game
        player, messages = game.get_observation()
        self._player = player
        self._news = messages
        roles = game.state.role_mapping
        stripping = self._strip is not _keep
        blocks = _BLOCKS
        pieces = []  # "\n[sender] text" per message, stripped (see _BLOCKS)
        for message in messages:
            sender, text, kind = message
            if kind is _PROMPT or kind.__class__ is not _OBSERVATION_TYPE or text.__class__ is not str:
                sender, text, kind = _unpack(message)
                if kind is _PROMPT:
                    self._prompts[player] = self._rules_from(text)
                    continue
            name = "GAME" if sender == _GAME_ID else roles.get(sender, sender)
            if stripping:
                key = (name, text)
                piece = blocks.get(key)
                if piece is None:
                    piece = _strip_block(key)
                    if piece is None:
                        pieces = [self._news_slowly(player, messages, roles)]
                        break
                pieces.append(piece)
            else:
                pieces.append(f"\n[{name}] {text}")
        news = "".join(pieces)  # empty, or starts with the newline that joins it to the rules
        if self._history_games:  # everything received since reset, not only since the previous turn
            news = self._received[player] = self._received.get(player, "") + news
        rules = self._prompts.get(player)
        if rules is None:
            return _make_turn(player, news[1:])
        return _make_turn(player, f"[GAME] {rules}{news}" if news else f"[GAME] {rules}\n")

    def _news_slowly(self, player: int, messages: list[Any], roles: dict[int, str]) -> str:
        """``_turn``'s news stripped as one joined text (for text whose ``lower()`` changes length)."""
        news = []
        for message in messages:
            sender, text, kind = _unpack(message)
            if kind is _PROMPT:
                self._prompts[player] = self._rules_from(text)
            else:
                news.append(f"[{'GAME' if sender == _GAME_ID else roles.get(sender, sender)}] {text}")
        return "\n" + self._strip("\n".join(news)) if news else ""


def _strip_block(key: tuple[Any, str]) -> str | None:
    """``_BLOCKS[key]``, computed and stored; None when the block cannot be stripped on its own (its
    ``lower()`` has another length, so the stripping's positions depend on the text around it)."""
    name, text = key
    block = f"\n[{name}] {text}"
    if not block.isascii() and len(block.lower()) != len(block):
        return None
    global _blocks_chars
    piece = strip_move_lists(block)
    _blocks_chars += len(block) + len(piece)
    if _blocks_chars > _BLOCKS_MAX_CHARS:
        _BLOCKS.clear()
        _blocks_chars = len(block) + len(piece)
    _BLOCKS[key] = piece
    return piece


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python
_PLAIN: dict[type, bool] = {}
_MISSING = object()


def _plain(cls: type) -> bool:
    """Whether ``deepcopy`` copies instances of ``cls`` as ``cls.__new__(cls)`` + a copy of ``__dict__``:
    a Python class all the way up (no builtin base whose content ``__reduce_ex__`` would add), no copy
    hooks, no (non-empty) slots, no ``__setattr__`` and no data descriptors (setting attributes one by one
    must be the same as ``__dict__.update``)."""
    plain = _PLAIN.get(cls)
    if plain is None:
        bases = cls.__mro__[:-1]
        plain = _PLAIN[cls] = (
            all(base.__flags__ & _HEAPTYPE for base in bases)
            and not issubclass(cls, type)
            and cls not in copyreg.dispatch_table
            and getattr(cls, "__deepcopy__", None) is None
            and cls.__reduce_ex__ is object.__reduce_ex__
            and cls.__reduce__ is object.__reduce__
            and getattr(cls, "__getstate__", None) is object.__getstate__
            and not any(
                hasattr(cls, hook) for hook in ("__setstate__", "__getnewargs__", "__getnewargs_ex__")
            )
            and cls.__setattr__ is object.__setattr__
            and not any(
                (name == "__slots__" and value)  # abc.ABC's empty slots are fine
                or (name not in ("__dict__", "__weakref__") and hasattr(value, "__set__"))
                for base in bases
                for name, value in vars(base).items()
            )
        )
    return plain


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(value, memo)``, faster for what game states are made of (lists, dicts, tuples of
    strings and numbers, plain objects); anything else goes to ``copy.deepcopy`` with the same memo.

    Same result as ``deepcopy``: new lists, dicts and objects (sharing preserved through ``memo``), atomic
    values and tuples of them shared (``deepcopy`` returns those as they are). Plain objects are rebuilt
    attribute by attribute in their order, which keeps CPython 3.12's inline attribute values: ``deepcopy``
    materialises each ``__dict__``, and a deep-copied game then steps up to ~30% slower."""
    cls = type(value)
    if cls in _ATOMIC:
        return value
    found = memo.get(id(value), _MISSING)
    if found is not _MISSING:
        return found
    atomic = _ATOMIC
    if cls is list:
        new_list: list[Any] = []
        memo[id(value)] = new_list
        append = new_list.append
        for item in value:  # inlined for the common items: atomic values, tuples of them (message logs)
            kind = type(item)
            if kind is tuple:
                for part in item:
                    if type(part) not in atomic:
                        item = _copy(item, memo)
                        break
            elif kind not in atomic:
                item = _copy(item, memo)
            append(item)
        return new_list
    if cls is tuple:
        for item in value:
            if type(item) not in atomic:
                return copy.deepcopy(value, memo)
        return value
    if cls is dict:
        new_dict: dict[Any, Any] = {}
        memo[id(value)] = new_dict
        for key, item in value.items():
            new_dict[key if type(key) in atomic else _copy(key, memo)] = (
                item if type(item) in atomic else _copy(item, memo)
            )
        return new_dict
    if _plain(cls):
        new = cls.__new__(cls)
        memo[id(value)] = new
        for name, item in value.__dict__.items():
            object.__setattr__(new, name, item if type(item) in atomic else _copy(item, memo))
        return new
    return copy.deepcopy(value, memo)


_NOT_POSITION = frozenset(
    {"observations", "logs", "step_info", "set_invalid_move", "made_invalid_move", "error_count"}
)
"""``State`` attributes that are the message log or the last step's bookkeeping, not the position."""


_NOT_STATE = (
    random.Random,
    type,
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.ModuleType,
    _RandomRouter,
)
"""Values that hold code or randomness rather than the position: left out of ``position_key``."""


def _digest(value: Any, seen: dict[int, int]) -> Any:
    """A hashable, order-independent-where-Python-is rendering of a game object's state (for
    ``position_key``): containers and plain objects (``__dict__`` and slots) recursively, generators and
    functions skipped, other values by ``repr``. ``seen`` breaks reference cycles."""
    cls = type(value)
    if cls in _ATOMIC:
        return value
    if value is _MISSING:  # an empty slot
        return ("<unset>",)
    marker = seen.get(id(value))
    if marker is not None:
        return ("<ref>", marker)
    seen[id(value)] = len(seen)
    if cls is list or cls is tuple:
        return (cls.__name__, *(_digest(item, seen) for item in value))
    if cls is dict:
        items = [(_digest(k, seen), _digest(v, seen)) for k, v in value.items()]
        return ("dict", *sorted(items, key=repr))
    if cls is set or cls is frozenset:
        return ("set", *sorted((_digest(item, seen) for item in value), key=repr))
    if isinstance(value, _NOT_STATE):
        return None
    slots = _slots_of(cls)
    attrs = getattr(value, "__dict__", None)
    if attrs is not None or slots:
        skip = _NOT_POSITION if isinstance(value, ta.State) else ()
        return (
            cls.__name__,
            *((name, _digest(getattr(value, name, _MISSING), seen)) for name in slots),
            *((name, _digest(item, seen)) for name, item in (attrs or {}).items() if name not in skip),
        )
    return (cls.__name__, repr(value))


class _Pickler(pickle.Pickler):
    """Pickles a game without the objects in ``left_out`` (by id → a name): our ``set_invalid_move`` hook,
    which cannot be pickled and is set again on each copy, and the message log, which a scratch copy
    starts empty (``TextArenaEnv.scratch``)."""

    def __init__(self, file: io.BytesIO, left_out: dict[int, str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._left_out = left_out

    def persistent_id(self, obj: Any) -> str | None:
        return self._left_out.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return [] if pid == "logs" else None  # the hook's place, until ``_hook_invalid_moves``


def _unpickle(blob: bytes) -> Any:
    return _Unpickler(io.BytesIO(blob)).load()


class _Inexact(Exception):
    """A value ``_exact`` cannot render so that equal renderings imply equal behaviour."""


_EXACT_SKIP = {"logs", "set_invalid_move"}
"""``State`` attributes left out of ``state_key``: the message log (read by no game) and our hook."""
_CODE = (type, types.FunctionType, types.ModuleType, _RandomRouter)
"""Values that are code, the same objects for every env (by identity within the process)."""


def _exact(value: Any, seen: dict[int, int]) -> Any:
    """``value`` rendered for ``state_key``: a tuple of atomic values whose ``repr`` is equal for two game
    states only if they are equal as Python states — shared references and cycles by first-visit order,
    dicts and sets in iteration order (a game may depend on it), objects of pure-Python classes by their
    ``__dict__`` and slots. Anything else (C objects, closures, bound builtins, object arrays) raises
    ``_Inexact``: nothing is reused for that game."""
    cls = type(value)
    if cls in _ATOMIC:
        return value
    if value is _MISSING:
        return ("<unset>",)
    marker = seen.get(id(value))
    if marker is not None:
        return ("<ref>", marker)
    seen[id(value)] = len(seen)
    if cls is list or cls is tuple or cls is set or cls is frozenset:
        return (cls.__name__, *(_exact(item, seen) for item in value))
    if cls is dict or cls is defaultdict or cls is OrderedDict:
        factory = _exact(getattr(value, "default_factory", None), seen)
        return (cls.__name__, factory, *((_exact(k, seen), _exact(v, seen)) for k, v in value.items()))
    if cls is random.Random:
        return ("Random", value.getstate())
    if isinstance(value, _CODE):
        if isinstance(value, types.FunctionType) and value.__closure__:
            raise _Inexact(value)
        return ("code", repr(value))
    if cls is types.MethodType:
        return ("method", repr(value.__func__), _exact(value.__self__, seen))
    if cls is re.Pattern:
        return ("re", value.pattern, value.flags)
    module = cls.__module__
    if module == "numpy" and hasattr(value, "dtype"):
        if value.dtype.hasobject:
            raise _Inexact(value)
        return (cls.__name__, value.dtype.str, getattr(value, "shape", ()), value.tobytes())
    if all(base.__flags__ & _HEAPTYPE for base in cls.__mro__[:-1]) and not issubclass(cls, BaseException):
        slots = _slots_of(cls)
        attrs = getattr(value, "__dict__", {})
        skip = _EXACT_SKIP if isinstance(value, ta.State) else ()
        return (
            module,
            cls.__qualname__,
            *((name, _exact(getattr(value, name, _MISSING), seen)) for name in slots),
            *((name, _exact(item, seen)) for name, item in attrs.items() if name not in skip),
        )
    raise _Inexact(value)


@functools.cache
def _slots_of(cls: type) -> tuple[str, ...]:
    """The slot attributes an instance of ``cls`` holds (every Python base's ``__slots__``): state kept
    outside ``__dict__`` (RushHour's ``_Vehicle``), which ``repr`` would render by its address."""
    names = []
    for base in cls.__mro__[:-1]:
        slots = base.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else slots
    return tuple(name for name in names if name not in ("__dict__", "__weakref__"))


def _unpack(message: tuple[Any, Any, Any]) -> tuple[int, str, ta.ObservationType]:
    """(sender, text, kind) of a TextArena message, whatever the order (Cryptarithm's is scrambled)."""
    sender, text, kind = message
    if isinstance(text, str) and isinstance(kind, ta.ObservationType):
        return sender, text, kind
    fields = {type(v): v for v in message}
    return fields.get(int, ta.GAME_ID), str(fields.get(str, "")), fields.get(ta.ObservationType, kind)


__all__ = ["HISTORY_GAMES", "ORACLE_GAMES", "TextArenaEnv"]
