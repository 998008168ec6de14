"""OpenSpiel (2.0.2, the optional extra ``autoharness[openspiel]``) behind our ``Env`` protocol.

Ids: ``openspiel:NAME`` or ``openspiel:NAME(param=value,...)`` — OpenSpiel's own game-string syntax, passed
to ``pyspiel.load_game`` as written.

What the agent sees each turn (text only): a short rules header (game name, players, its seat, the action
format with three examples drawn from ``action_to_string`` at the game's first decision), then for a
perfect-information game the moves played since its last turn (other players' and chance's, as
OpenSpiel's action strings) and ``observation_string``; for an imperfect-information game
``information_state_string`` (what the player knows, history included) and, when the game has one and
it differs, ``observation_string`` — many information states are terse encodings (Kuhn poker: ``0``), and
both are by definition what this player may know. Moves since the last turn are *not* listed for
imperfect-information games: an opponent's move can be hidden (dark_hex, phantom_ttt, kriegspiel), and the
information state already holds every move the player may see.

An action is one of OpenSpiel's action strings in square brackets (``[x(1,1)]``; the text between the
first ``[`` and the last ``]`` is compared exactly, then without surrounding spaces, so ``[[P0]Bid: 3]``
works in goofspiel and morpion_solitaire's strings need not keep their trailing space); the adapter maps
it back to the action id. Anything else is illegal, with the reason. As with TextArena, the *first*
illegal move ends the episode: the offender gets the game's minimum utility, every other player its
maximum (a forfeit).

``legal_moves()`` (``envs.base.HasLegalMoves``) is exact: the action strings of ``legal_actions()``, for
probing, the random player and verification — never part of an observation (the rules header shows three
fixed examples, the same in every game of that id).

Chance nodes are sampled from the env's own ``random.Random(seed)``, so a seed fixes the game and a clone
draws its own future independently. Simultaneous-move nodes are played properly: the players at the node
are asked one after another (seat order) on the same state; nobody sees another's choice before the joint
action is applied, after which the round's moves appear among the "moves since your last turn".

Rewards: ``returns()`` at the terminal state, on OpenSpiel's scale; ``reward_range`` is the game's
(``min_utility``, ``max_utility``), so ``normalized_reward`` maps a zero-sum ±1 game exactly like a
TextArena two-player game ((r + 1) / 2), and any other range linearly onto [0, 1] (clipped).

Games that cannot be played here are excluded with a reason (``exclusion``): mean-field games (a population,
not players), games with "sampled stochastic" chance (their randomness lives inside the shared game object:
not fixed by our seed, and shared by clones), games whose moves exist only as action structs (crossword),
and games that give players no text view.
"""

from __future__ import annotations

import bisect
import contextlib
import difflib
import functools
import os
import random
import tempfile
from collections.abc import Iterator
from typing import Any, Self

from ..errors import ConfigError, EnvError, UnknownGame
from .base import StepResult, Turn
from .registry import GameSpec

PREFIX = "openspiel:"
VERSION = "2.0.2"
INSTALL_HINT = (
    f"OpenSpiel games need the optional extra: pip install 'autoharness[openspiel]' "
    f"(open_spiel=={VERSION}; in a clone: python -m uv sync --extra openspiel)"
)


def _pyspiel() -> Any:
    try:
        import pyspiel
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc
    return pyspiel


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence what OpenSpiel's C++ side writes to fd 2 (it prints every error it raises, and warnings
    such as quoridor's "known issues"): our one-line error says it instead."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def game_string(game_id: str) -> str:
    """``openspiel:go(board_size=9)`` → ``go(board_size=9)`` (whitespace dropped)."""
    return "".join(game_id[len(PREFIX) :].split())


@functools.cache
def load(game_id: str) -> Any:
    """The ``pyspiel.Game`` of an ``openspiel:`` id; unknown names and bad parameters are one-line errors."""
    pyspiel = _pyspiel()
    text = game_string(game_id)
    name = text.split("(", 1)[0]
    names = pyspiel.registered_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        raise UnknownGame(game_id, [PREFIX + c for c in close])
    try:
        with _quiet_stderr():
            return pyspiel.load_game(text)
    except Exception as exc:  # SpielError, and IndexError ("map::at") from some C++ loaders
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{game_id}: OpenSpiel cannot load {text!r}: {detail}") from exc


def exclusion(game: Any) -> str | None:
    """Why ``game`` cannot be played through this adapter, or None when it can."""
    pyspiel = _pyspiel()
    kind = game.get_type()
    if kind.dynamics == pyspiel.GameType.Dynamics.MEAN_FIELD:
        return "a mean-field game (a population distribution, not players taking turns)"
    if kind.chance_mode == pyspiel.GameType.ChanceMode.SAMPLED_STOCHASTIC:
        return (
            "its chance events are sampled inside the shared game object, so our seed cannot fix them "
            "and clones would share them"
        )
    if not (kind.provides_observation_string or kind.provides_information_state_string):
        return "it gives players no text view (no observation or information-state string)"
    try:
        with _quiet_stderr():
            state, player = _first_decision(game)
            if player is not None:
                state.legal_actions(player)
    except pyspiel.SpielError as exc:
        return f"its moves cannot be listed as actions ({str(exc).strip().splitlines()[0]})"
    return None


@functools.cache
def spec(game_id: str) -> GameSpec:
    """The registry entry of an ``openspiel:`` id (an excluded game is a one-line error with the reason)."""
    game = load(game_id)
    why = exclusion(game)
    if why is not None:
        raise ConfigError(f"{game_id} is not supported: {why}")
    return GameSpec(
        id=game_id, players=game.num_players(), eval_set=False, paper_learning_steps=None, source="openspiel"
    )


@functools.cache
def listed() -> tuple[GameSpec, ...]:
    """Every registered OpenSpiel game that loads with its default parameters and can be played here,
    by name. Games that need parameters (wrappers such as ``turn_based_simultaneous_game``) are not
    listed but work by id with their parameters."""
    pyspiel = _pyspiel()
    specs = []
    for name in sorted(pyspiel.registered_names()):
        try:
            specs.append(spec(PREFIX + name))
        except ConfigError:
            continue
    return tuple(specs)


def _first_decision(game: Any) -> tuple[Any, int | None]:
    """A state at the game's first decision (chance sampled from a fixed-seed RNG: taking the first
    outcome every time can loop, as crazy_eights' deal does) and a player to move there (None when the
    game ends before anyone moves)."""
    state, rng = game.new_initial_state(), random.Random(0)
    for _ in range(100_000):
        if not state.is_chance_node():
            break
        state.apply_action(_sample(state.chance_outcomes(), rng))
    if state.is_terminal() or state.is_chance_node():
        return state, None
    if state.is_simultaneous_node():
        return state, 0
    return state, state.current_player()


def _sample(outcomes: list[tuple[int, float]], rng: random.Random) -> int:
    """One chance outcome drawn with its probability from ``rng`` (one ``rng.random()`` call)."""
    cumulative, total = [], 0.0
    for _, probability in outcomes:
        total += probability
        cumulative.append(total)
    index = bisect.bisect_right(cumulative, rng.random() * total)
    return outcomes[min(index, len(outcomes) - 1)][0]


@functools.cache
def _examples(game_id: str, player: int) -> tuple[str, ...]:
    """Up to three fixed action strings of ``player`` (first, middle and last of its legal actions at its
    first decision, reached by playing everyone's first legal action): in tic_tac_toe player 1's are
    ``o(...)``, in goofspiel ``[P1]Bid: ...``."""
    state, mover = _first_decision(load(game_id))
    rng = random.Random(0)
    for _ in range(1_000):
        if mover is None:
            return ()
        if state.is_simultaneous_node() or mover == player:
            legal = state.legal_actions(player)
            if legal:
                picks = sorted({0, len(legal) // 2, len(legal) - 1})
                return tuple(state.action_to_string(player, legal[i]) for i in picks)
            if state.is_simultaneous_node():
                state.apply_actions([(state.legal_actions(p) or [0])[0] for p in range(state.num_players())])
        if not state.is_simultaneous_node() and mover != player:
            state.apply_action(state.legal_actions(mover)[0])
        while state.is_chance_node():
            state.apply_action(_sample(state.chance_outcomes(), rng))
        if state.is_terminal():
            return ()
        mover = 0 if state.is_simultaneous_node() else state.current_player()
    return ()


def parse_action(action: str) -> str | None:
    """The text between the first ``[`` and the last ``]``, or None when there is no bracketed part."""
    start, end = action.find("["), action.rfind("]")
    if start < 0 or end <= start:
        return None
    return action[start + 1 : end]


class OpenSpielEnv:
    """One OpenSpiel game implementing ``autoharness.envs.Env`` (and ``HasLegalMoves``)."""

    def __init__(self, game_spec: GameSpec) -> None:
        pyspiel = _pyspiel()
        self.id = game_spec.id
        self._game = load(game_spec.id)
        kind = self._game.get_type()
        self.num_players = self._game.num_players()
        self.reward_range = (float(self._game.min_utility()), float(self._game.max_utility()))
        self._perfect = kind.information == pyspiel.GameType.Information.PERFECT_INFORMATION
        self._has_obs = kind.provides_observation_string
        self._has_info = kind.provides_information_state_string
        self._long_name = kind.long_name
        self._simultaneous_game = kind.dynamics == pyspiel.GameType.Dynamics.SIMULTANEOUS
        self._chance = pyspiel.PlayerId.CHANCE
        self._state: Any = None
        self._rng = random.Random()
        self._log: list[tuple[int, str]] = []
        """Every applied move as (player, action string); chance is ``pyspiel.PlayerId.CHANCE``."""
        self._seen: dict[int, int] = {}
        """Player → length of ``_log`` when that player last moved (what it has been shown)."""
        self._pending: dict[int, int] = {}
        """At a simultaneous node: the actions already chosen this round, by player."""
        self._waiting: list[int] = []
        """At a simultaneous node: players still to choose, in seat order."""
        self._player = 0
        self._done = True

    # -- protocol -------------------------------------------------------------------------------------

    def reset(self, seed: int) -> Turn:
        self._rng = random.Random(seed)
        self._state = self._game.new_initial_state()
        self._log, self._seen, self._pending, self._waiting = [], {}, {}, []
        self._done = False
        if self._advance():
            raise EnvError(f"{self.id}: the game ended before any player moved")
        return self._turn()

    def step(self, action: str) -> StepResult:
        if self._done:
            raise EnvError(f"{self.id}: step() after the game ended; call reset() first")
        player, state = self._player, self._state
        text = parse_action(action)
        if text is None:
            example = self._example()
            return self._illegal(player, f"no action in square brackets: write one action as [{example}]")
        legal = self._legal(player)
        chosen = legal.get(text)
        if chosen is None:  # spaces around the text are not part of the move (morpion's strings end in one)
            stripped = {move.strip(): a for move, a in legal.items()}
            chosen = stripped.get(text.strip()) if len(stripped) == len(legal) else None
        if chosen is None:
            return self._illegal(player, f"[{text.strip()}] is not a legal action for player {player} now")
        self._seen[player] = len(self._log)
        if self._waiting:  # a simultaneous node: collect, apply when every player has chosen
            self._pending[player] = chosen
            self._waiting.pop(0)
            if self._waiting:
                self._player = self._waiting[0]
                return StepResult(legal=True, done=False, next=self._turn())
            joint = [self._pending.get(p, 0) for p in range(self.num_players)]
            for p in sorted(self._pending):
                self._log.append((p, state.action_to_string(p, self._pending[p])))
            self._pending = {}
            state.apply_actions(joint)
        else:
            self._log.append((player, text))
            state.apply_action(chosen)
        if self._advance():
            returns = state.returns()
            self._done = True
            rewards = {p: float(returns[p]) for p in range(self.num_players)}
            return StepResult(legal=True, done=True, rewards=rewards, info={"end": "terminal state"})
        return StepResult(legal=True, done=False, next=self._turn())

    def clone(self) -> Self:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._state = self._state.clone() if self._state is not None else None
        new._rng = random.Random()
        new._rng.setstate(self._rng.getstate())
        new._log, new._seen = list(self._log), dict(self._seen)
        new._pending, new._waiting = dict(self._pending), list(self._waiting)
        return new

    def normalized_reward(self, rewards: dict[int, float], player: int) -> float:
        low, high = self.reward_range
        if high <= low:
            return 0.0
        return min(1.0, max(0.0, (rewards[player] - low) / (high - low)))

    def legal_moves(self) -> list[str] | None:
        """The exact legal moves of the player to move, as ``step`` takes them (OpenSpiel's action strings
        in brackets: ``[x(1,1)]``); None once the game is over."""
        if self._done:
            return None
        return [f"[{move}]" for move in self._legal(self._player)]

    def rules(self, player: int = 0) -> str:
        """The rules header ``player`` sees every turn (no move list: three fixed examples)."""
        examples = ", ".join(f"[{e}]" for e in _examples(self.id, player))
        players = f"{self.num_players} player{'s' if self.num_players != 1 else ''}"
        lines = [
            f"You are playing {self._long_name} (OpenSpiel game {game_string(self.id)}), {players}; "
            f"you are player {player}.",
            "Answer with exactly one action in square brackets, written as OpenSpiel writes it"
            + (f", for example {examples}" if examples else "")
            + ". Anything else is an illegal move.",
        ]
        if self._simultaneous_game:
            lines.append(
                "Players choose at the same time: you see the others' choices once the round is played."
            )
        return "\n".join(lines)

    # -- internals ------------------------------------------------------------------------------------

    def _advance(self) -> bool:
        """Play chance nodes from our RNG until a player must move; True when the game is over."""
        state = self._state
        while state.is_chance_node():
            action = _sample(state.chance_outcomes(), self._rng)
            self._log.append((self._chance, state.action_to_string(self._chance, action)))
            state.apply_action(action)
        if state.is_terminal():
            return True
        if state.is_simultaneous_node():
            self._waiting = [p for p in range(self.num_players) if state.legal_actions(p)]
            self._player = self._waiting[0]
        else:
            self._player = state.current_player()
        return False

    def _legal(self, player: int) -> dict[str, int]:
        state = self._state
        return {state.action_to_string(player, a): a for a in state.legal_actions(player)}

    def _example(self) -> str:
        examples = _examples(self.id, self._player)
        return examples[0] if examples else "ACTION"

    def _illegal(self, player: int, reason: str) -> StepResult:
        low, high = self.reward_range
        self._done = True
        rewards = {p: (low if p == player else high) for p in range(self.num_players)}
        return StepResult(legal=False, done=True, reason=reason, rewards=rewards)

    def _turn(self) -> Turn:
        player, state = self._player, self._state
        parts = [f"[GAME] {self.rules(player)}"]
        if self._perfect:
            news = [
                f"{'chance' if p == self._chance else f'player {p}'}: {move}"
                for p, move in self._log[self._seen.get(player, 0) :]
                if p != player
            ]
            if news:
                parts.append("Moves since your last turn: " + "; ".join(news))
            view = state.observation_string if self._has_obs else state.information_state_string
            parts.append("Your observation:\n" + view(player))
        else:
            views = []
            if self._has_info:
                views.append("Your information state:\n" + state.information_state_string(player))
            if self._has_obs:
                observation = state.observation_string(player)
                if not self._has_info or observation != state.information_state_string(player):
                    views.append("Your observation:\n" + observation)
            parts.extend(views)
        return Turn(player, "\n".join(parts))


__all__ = ["PREFIX", "OpenSpielEnv", "exclusion", "listed", "load", "parse_action", "spec"]
