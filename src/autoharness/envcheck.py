"""``autoharness check-env ID``: does an environment keep the ``Env`` contract the method relies on?

Modelled on Gymnasium's ``check_env``: it plays a few random games (moves from the env's legal-move oracle
when it has one, else probed on clones as the random baseline does) and checks

* observations are non-empty text and the player to move is a seat of the game;
* determinism: the same seed and the same moves give the same observations and rewards;
* clone independence: playing a clone to the end changes nothing in the original;
* illegal moves are reported: a garbage action is rejected (``legal=False``) with a reason and ends the game;
* rewards: a finished game gives one reward per player, within ``reward_range``, and ``normalized_reward``
  maps them into [0, 1];
* a legal-move oracle, when the env has one: every listed move is accepted.

Each check yields a ``Finding``: its name, whether it passed, and what is wrong. Exceptions raised by the
env are findings too (the traceback's last line), never a crash of the checker.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .agents import RandomAgent
from .envs import get_spec, make
from .envs.base import Env, StepResult, Turn, legal_moves_of

GARBAGE = "zz not a move %%"
SEEDS = (0, 1, 2)
MAX_PLIES = 200


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's verdict."""

    check: str
    ok: bool
    detail: str = ""
    skipped: bool = False
    """Not run, because a check it builds on failed (``ok`` stays True: nothing was found wrong)."""


class _Problem(Exception):
    """A check failed; the message says why."""


def _playout(env: Env, seed: int, plies: int) -> tuple[list[Turn], list[str], StepResult | None]:
    """A random game from ``seed`` (moves chosen from ``seed`` too): its turns, moves and last step."""
    return _drive(env, env.reset(seed), seed, plies)


def _drive(env: Env, turn: Turn, seed: int, plies: int) -> tuple[list[Turn], list[str], StepResult | None]:
    """Random moves (chosen from ``seed``) from ``turn`` on, until the game ends or ``plies`` moves."""
    agent = RandomAgent()
    turns, moves, result = [turn], [], None
    for _ in range(plies):
        agent.begin_match(env, turn.player, seed * 1_000 + len(moves))
        move = agent.act(turn.observation, turn.player)
        moves.append(move)
        result = env.step(move)
        if result.done:
            break
        if result.next is None:
            raise _Problem(f"seed {seed}, step {len(moves)}: a running game returned no next turn")
        turn = result.next
        turns.append(turn)
    return turns, moves, result


def _replay(env: Env, seed: int, moves: list[str]) -> tuple[list[Turn], StepResult | None]:
    turn = env.reset(seed)
    turns, result = [turn], None
    for move in moves:
        result = env.step(move)
        if result.done or result.next is None:
            break
        turns.append(result.next)
    return turns, result


def _check_text(env: Env, seed: int) -> None:
    turns, _, _ = _playout(env, seed, MAX_PLIES)
    for i, turn in enumerate(turns):
        if not isinstance(turn.observation, str) or not turn.observation.strip():
            kind = type(turn.observation).__name__
            raise _Problem(f"seed {seed}, turn {i}: observation is {kind}, not text")
        if not isinstance(turn.player, int) or not 0 <= turn.player < env.num_players:
            raise _Problem(f"seed {seed}, turn {i}: player {turn.player!r} is not a seat of this game")


def _check_determinism(make_env: Callable[[], Env]) -> None:
    for seed in SEEDS:
        turns, moves, result = _playout(make_env(), seed, MAX_PLIES)
        again, result_again = _replay(make_env(), seed, moves)
        for i, (a, b) in enumerate(zip(turns, again, strict=False)):
            if a != b:
                raise _Problem(f"seed {seed}, turn {i}: the same seed and moves gave another observation")
        if len(turns) != len(again) or (result and result.rewards) != (result_again and result_again.rewards):
            raise _Problem(f"seed {seed}: the same seed and moves gave another outcome")


def _check_clone(make_env: Callable[[], Env], deterministic: bool) -> None:
    """The original plays on exactly like a twin (same seed, same moves) after a clone of it played to the
    end; the twin comparison needs determinism, so without it only ``clone() is not env`` is checked."""
    env = make_env()
    env.reset(SEEDS[0])
    if env.clone() is env:
        raise _Problem("clone() returned the env itself (probing a move on it plays the move for real)")
    if not deterministic:
        return
    for seed in SEEDS:
        _, moves, _ = _playout(make_env(), seed, MAX_PLIES)
        if len(moves) < 2:
            continue
        cut = len(moves) // 2
        env, twin = make_env(), make_env()
        reached, _ = _replay(env, seed, moves[:cut])
        _replay(twin, seed, moves[:cut])
        _drive(env.clone(), reached[-1], seed + 1, MAX_PLIES)  # the clone plays on, other moves
        for i, move in enumerate(moves[cut:]):
            step, twin_step = env.step(move), twin.step(move)
            if step != twin_step:
                raise _Problem(f"seed {seed}: after playing a clone, the original's step {cut + i} changed")
            if step.done:
                break


def _check_illegal(env: Env) -> None:
    for seed in SEEDS:
        env.reset(seed)
        result = env.step(GARBAGE)
        if result.legal:
            raise _Problem(f"seed {seed}: the action {GARBAGE!r} was accepted as legal")
        if not (isinstance(result.reason, str) and result.reason.strip()):
            raise _Problem(f"seed {seed}: the illegal action {GARBAGE!r} came with no reason")
        if not result.done:
            raise _Problem(f"seed {seed}: an illegal move did not end the episode (done=False)")


def _check_rewards(env: Env) -> None:
    low, high = env.reward_range
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise _Problem(f"reward_range {env.reward_range!r} is not a finite (worst, best) pair")
    finished = 0
    for seed in SEEDS:
        _, _, result = _playout(env, seed, 1_000)
        if result is None or not result.done or result.rewards is None:
            continue
        finished += 1
        if set(result.rewards) != set(range(env.num_players)):
            raise _Problem(f"seed {seed}: rewards {result.rewards!r} are not one per player")
        for player, reward in result.rewards.items():
            if not low <= reward <= high:
                raise _Problem(f"seed {seed}: player {player}'s reward {reward} is outside {(low, high)}")
            norm = env.normalized_reward(result.rewards, player)
            if not 0.0 <= norm <= 1.0:
                raise _Problem(f"seed {seed}: normalized_reward gave {norm} for player {player}, not [0, 1]")
    if finished == 0:
        raise _Problem(f"no random game finished within 1,000 moves on seeds {SEEDS}; rewards unchecked")


def _check_oracle(env: Env) -> str:
    listed = 0
    for seed in SEEDS:
        env.reset(seed)
        moves = legal_moves_of(env)
        if moves is None:
            continue
        listed += 1
        if not moves:
            raise _Problem(f"seed {seed}: legal_moves() is empty at the start of a running game")
        for move in moves:
            if not env.clone().step(move).legal:
                raise _Problem(f"seed {seed}: listed move {move!r} is rejected by step()")
    if listed == 0:
        return "no legal-move oracle (optional)"
    return f"every listed move accepted ({listed} seeds)"


def check_env(game_id: str) -> list[Finding]:
    """Run every check on ``game_id``; an unknown or unloadable id raises its one-line ``UsageError``."""
    spec = get_spec(game_id)

    def make_env() -> Env:
        return make(game_id)

    findings = [Finding("builds", True, f"{spec.source} game, {spec.players} player(s)")]

    def run(name: str, check: Callable[[], str | None]) -> None:
        try:
            detail = check()
        except _Problem as exc:
            findings.append(Finding(name, False, str(exc)))
        except Exception as exc:  # the env itself raised: that is what is wrong
            findings.append(Finding(name, False, f"the env raised {type(exc).__name__}: {exc}"))
        else:
            findings.append(Finding(name, True, detail or ""))

    run("observations are text", lambda: _check_text(make_env(), SEEDS[0]))
    run("deterministic under a seed", lambda: _check_determinism(make_env))
    deterministic = findings[-1].ok
    run("clones are independent", lambda: _check_clone(make_env, deterministic))
    if findings[-1].ok and not deterministic:
        findings[-1] = Finding(
            findings[-1].check, True, "only checked that clone() is a new object: needs determinism", True
        )
    run("illegal moves are reported", lambda: _check_illegal(make_env()))
    run("rewards in range", lambda: _check_rewards(make_env()))
    run("legal-move oracle", lambda: _check_oracle(make_env()))
    return findings


__all__ = ["Finding", "check_env"]
