"""The environment protocol every adapter implements (TextArena today, OpenSpiel or a user's env later).

Deliberately as small as Gymnasium's ``Env``: text in, text out, plus the one signal the whole method needs —
whether the environment accepted the move, and if not, its reason. Nothing here knows about TextArena.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Self, runtime_checkable


@dataclass(frozen=True, slots=True)
class Turn:
    """Whose move it is and what that player sees (move lists already stripped)."""

    player: int
    observation: str


@dataclass(frozen=True, slots=True)
class StepResult:
    """Outcome of one ``step``.

    ``legal`` is False exactly when the environment rejected the action; ``reason`` then carries the
    environment's own text. After an illegal move the game is over for training purposes (``done`` is
    True): the method needs the *first* illegal move, not the env's retry allowance.
    ``rewards`` is set when ``done`` (one entry per player, the env's raw scale); ``next`` is the next
    turn when the game goes on.
    """

    legal: bool
    done: bool
    reason: str | None = None
    rewards: dict[int, float] | None = None
    next: Turn | None = None
    info: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Env(Protocol):
    """A turn-based text environment that can say "illegal move"."""

    id: str
    num_players: int
    reward_range: tuple[float, float]
    """(worst, best) raw reward, used to normalise a player's reward to [0, 1]."""

    def reset(self, seed: int) -> Turn:
        """Start a new game; same seed → same observations, whatever else runs in the process."""
        ...

    def step(self, action: str) -> StepResult:
        """Play ``action`` for the player to move."""
        ...

    def clone(self) -> Self:
        """An independent copy (for probing legality of actions without touching this game)."""
        ...

    def normalized_reward(self, rewards: dict[int, float], player: int) -> float:
        """``player``'s end-of-game reward mapped to [0, 1] (policy-mode heuristic, evaluation)."""
        ...


@runtime_checkable
class HasLegalMoves(Protocol):
    """Optional capability: an env that can name the legal moves of the player to move.

    An oracle for baselines, opponents and tests only — what it returns must never reach the observation
    an agent sees. ``legal_moves()`` returns the moves (action strings ``step`` accepts), or None when this
    game (or this turn) has no such list; callers then fall back to probing. Check with
    ``isinstance(env, HasLegalMoves)`` or use ``legal_moves_of(env)``.
    """

    def legal_moves(self) -> list[str] | None:
        """The legal moves of the player to move, or None when unknown."""
        ...


@runtime_checkable
class HasCutScore(Protocol):
    """Optional capability: the game's own end-of-game rewards for the position reached, as if it ended now.

    Used when a game is cut at our step cap (not by its own rules): the cut game is then scored by what the
    game itself gives for that position (a 1-player game's progress or score; a 2-player game's turn-limit
    outcome), never as a loss. None when the game has no such measure.
    """

    def cut_rewards(self) -> dict[int, float] | None:
        """Raw rewards per player for the current position, or None."""
        ...


def cut_rewards_of(env: object) -> dict[int, float] | None:
    """``env.cut_rewards()`` when the env has the capability, else None."""
    method = getattr(env, "cut_rewards", None)
    return method() if callable(method) else None


def legal_moves_of(env: object) -> list[str] | None:
    """``env.legal_moves()`` when the env has the capability, else None (never raises for a plain Env)."""
    method = getattr(env, "legal_moves", None)
    return method() if callable(method) else None


__all__ = ["Env", "HasCutScore", "HasLegalMoves", "StepResult", "Turn", "cut_rewards_of", "legal_moves_of"]
