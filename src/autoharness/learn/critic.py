"""Critic: turn an evaluation into feedback text and decide how the next refinement may change the code.

At most ``limit`` failed steps (default 5) are shown, duplicates (same action, same answers, same
failure) dropped, taken round-robin over kinds of failure (checker
let an illegal move through, proposer wrong, checker too strict, list wrong, code failure, probe
mismatch) so one frequent mistake does not hide another. Each shows the observation (its tail when long),
the action, what the checker said, what the env said, and the traceback of a code failure. When training
rollouts explored (verifier mode, ``LearnConfig.explore``) the text says so: some observations follow a move
other than the one ``propose_action`` proposed, and a failed move tried by exploration is marked as such.

Conditional refinement (the paper's rule, extended):

* ``both`` — the checker (or the legal list) is wrong: it accepted an illegal move, rejected a legal one
  (rollout or probe), crashed, or the code did not load. Every function may be rewritten.
* ``proposer`` — verifier mode, and every failure is the proposer's (it proposed an illegal move and the
  checker correctly said no, or ``propose_action`` crashed): only ``propose_action`` may change;
  ``is_legal_action`` is kept byte-identical (the refiner enforces it).
* policy and filter mode always rewrite the whole harness (``both``): in policy mode the checker is never
  consulted; in filter mode the list *is* the checker.

Policy feedback with no illegal move says why the reward is what it is: one line per game (seat, steps, how
it ended — the game's end, cut at the step cap, a forfeit or crash of others — reward, and how many of its
positions repeated an earlier one: a loop), the game's own final message (score, tiles, result), then the
final observation and last move of the worst game(s). A cut game is scored by the game's own value of the
position reached and is said to be cut, never called a loss. Sizes follow the legality feedback: at most
``limit`` games shown in full, each observation cut to ``OBS_CHARS``.

Games that reached a dead position (no legal move exists: ``rollout.RolloutEnd.DEAD_POSITION``) are counted
and said to be the game's defect; the step where it happened is never shown as a mistake of the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from ..rollout import NO_RESULT, Rollout, RolloutEnd, StepRecord, StepVerdict
from ..sandbox.failures import HarnessFailure
from .evaluation import TIME_CUT, Evaluation, ProbeMismatch, seat_reward

BOTH = "both"
PROPOSER = "proposer"

OBS_CHARS = 2500
"""Observation text kept per failure (the tail: the current board and the last messages)."""

_HEADLINE = {
    StepVerdict.CHECKER_WRONG: "is_legal_action said the move was legal, but the game rejected it",
    StepVerdict.PROPOSER_WRONG: "propose_action proposed an illegal move",
    StepVerdict.CHECKER_TOO_STRICT: "is_legal_action rejected a move the game accepts",
    StepVerdict.LIST_WRONG: "legal_actions listed moves the game rejects",
    StepVerdict.LIST_EMPTY: "legal_actions returned no move although the game goes on",
    StepVerdict.CODE_FAILURE: "the harness code failed",
}


@dataclass(frozen=True, slots=True)
class Feedback:
    """What the refiner tells the LLM, and which functions it may change."""

    text: str
    kind: str  # BOTH | PROPOSER
    failures: int  # failed steps + mismatches in the evaluation (before the cut to ``limit``)


def _clip(text: str, limit: int = OBS_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} earlier characters omitted ...]\n{text[-limit:]}"


ACTION_CHARS = 200
"""Longest action shown to the LLM (a harness may return up to ``MAX_ACTION_CHARS``); longer ones are cut."""

LISTED_SHOWN = 60
"""Most ``legal_actions`` entries (and most listed-but-illegal ones) shown; the rest are only counted."""


def _action(action: str) -> str:
    """``repr`` of an action, cut (saying so) when it is long."""
    if len(action) <= ACTION_CHARS:
        return repr(action)
    return f"{action[:ACTION_CHARS]!r}... (cut: {len(action)} characters in all)"


def _actions(actions: tuple[str, ...]) -> str:
    """A list of actions, each cut, at most ``LISTED_SHOWN`` of them (saying how many were left out)."""
    shown = ", ".join(_action(a) for a in actions[:LISTED_SHOWN])
    more = len(actions) - LISTED_SHOWN
    return f"[{shown}]" + (f" ... and {more} more (cut: {len(actions)} in all)" if more > 0 else "")


def _failure_lines(failure: HarnessFailure) -> list[str]:
    lines = [f"Code failure: {_clip(failure.describe(), 2000)}"]
    if failure.traceback:
        lines.append("Traceback:\n" + _clip(failure.traceback, 1500))
    return lines


def _describe_step(seed: int, step: StepRecord) -> str:
    lines = [f"Game seed {seed}, step {step.index}, player {step.player}: {_HEADLINE[step.verdict]}."]
    lines.append("Observation:\n" + _clip(step.observation))
    if step.listed or step.verdict is StepVerdict.LIST_EMPTY:
        lines.append(f"legal_actions returned: {_actions(step.listed)}")
    if step.wrong_listed:
        lines.append(f"Listed but illegal: {_actions(step.wrong_listed)}")
    if step.action is not None:
        lines.append(f"Action: {_action(step.action)}")
    if step.explored:
        lines.append(
            "This move was not proposed by propose_action: the training game tried it (a move the game "
            "accepts) to explore other positions. is_legal_action must judge every move correctly."
        )
    if step.checker_said is not None:
        lines.append(f"is_legal_action said: {step.checker_said}")
    if step.verdict is StepVerdict.CHECKER_TOO_STRICT:
        lines.append("The game accepts this move (checked on a copy of the game).")
    elif step.env_reason is not None or step.verdict in (
        StepVerdict.CHECKER_WRONG,
        StepVerdict.PROPOSER_WRONG,
    ):
        lines.append(f"The game said: illegal — {_clip(step.env_reason or '(no reason given)', 1000)}")
    if step.failure is not None:
        lines.extend(_failure_lines(step.failure))
    return "\n".join(lines)


def _describe_mismatch(m: ProbeMismatch, mode: str) -> str:
    if m.failure is not None:
        head = "is_legal_action failed on an action probed at this state"
    elif mode == "filter":
        head = "legal_actions left out a move the game accepts (found by probing a copy of the game)"
    elif m.too_strict:
        head = "is_legal_action rejected a move the game accepts (found by probing a copy of the game)"
    else:
        head = "is_legal_action accepted a move the game rejects (found by probing a copy of the game)"
    lines = [
        f"Game seed {m.seed}, step {m.step}, player {m.player}: {head}.",
        "Observation:\n" + _clip(m.observation),
    ]
    lines.append(f"Action: {_action(m.action)}")
    if m.checker_said is not None:
        lines.append(f"is_legal_action said: {m.checker_said}")
    lines.append(
        "The game accepts this move."
        if m.env_legal
        else f"The game said: illegal — {_clip(m.env_reason or '(no reason)', 1000)}"
    )
    if m.failure is not None:
        lines.extend(_failure_lines(m.failure))
    return "\n".join(lines)


def _step_kind(step: StepRecord) -> str:
    if step.verdict is StepVerdict.PROPOSER_WRONG:
        return PROPOSER
    if step.verdict is StepVerdict.CODE_FAILURE and step.failure is not None:
        return PROPOSER if step.failure.function == "propose_action" else BOTH
    return BOTH


def _failure_key(failure: HarnessFailure | None) -> tuple[str, str] | None:
    return (failure.kind.value, failure.message) if failure else None


MESSAGE_CHARS = 300
"""Longest final game message shown per game."""

WORST_SHOWN = 2
"""Worst games whose final observation is shown (within ``limit``)."""

_ENDINGS = {
    RolloutEnd.GAME_OVER: "game over",
    RolloutEnd.STEP_CAP: "cut at the step cap (not a loss: scored by the game's own value of the position)",
    RolloutEnd.OPPONENT_FORFEIT: "the random opponent made an illegal move (no result: not counted)",
    RolloutEnd.GAME_CRASH: "the game itself broke down (no result: not counted)",
    RolloutEnd.DEAD_POSITION: "a player had no legal move at all: a game defect (no result: not counted)",
}


def _ending(r: Rollout) -> str:
    if r.out_of_time:
        return f"{TIME_CUT} (not scored)"  # the evaluation's --eval-seconds or the run's wall budget
    return _ENDINGS.get(r.end, r.end.value)


def repeated_positions(rollout: Rollout) -> int:
    """Steps whose observation (a player's view of the position) was already seen earlier in the game: a
    policy going round in circles shows up here."""
    seen: set[tuple[int, str]] = set()
    repeats = 0
    for step in rollout.steps:
        key = (step.player, step.observation)
        repeats += key in seen
        seen.add(key)
    return repeats


def _game_line(r: Rollout) -> str:
    seat = f" (seat {r.seat})" if r.seat is not None else ""
    loops = repeated_positions(r)
    parts = [f"- seed {r.seed}{seat}: {len(r.steps)} steps, {_ending(r)}"]
    if r.end not in NO_RESULT and not r.out_of_time:
        parts.append(f"reward {seat_reward(r):.3f}")
    if loops:
        parts.append(f"{loops} steps repeated a position seen earlier in this game (a loop)")
    line = "; ".join(parts)
    if r.end_message:
        line += f"\n  the game said: {_clip(' '.join(r.end_message.split()), MESSAGE_CHARS)}"
    return line


def _worst_game(r: Rollout) -> str:
    last = r.steps[-1] if r.steps else None
    ending = _ending(r)
    lines = [f"Game seed {r.seed}: reward {seat_reward(r):.3f}, {ending}, after {len(r.steps)} steps."]
    if last is not None:
        lines.append("Last observation your code saw:\n" + _clip(last.observation))
        lines.append(f"Its move: {_action(last.move or '')}")
    if r.end_message:
        lines.append(f"The game's final message: {_clip(r.end_message, 1000)}")
    return "\n".join(lines)


def _reward_text(ev: Evaluation, limit: int) -> str:
    seats = {
        "random": "Your code played one seat per game (first and second in turn) against a random player. ",
    }.get(ev.opponent or "", "")
    scored = ev.scored
    ends = [r.end for r in ev.rollouts if not r.out_of_time]  # a time-cut game has no end: _time_note
    counts = ", ".join(
        f"{ends.count(end)} {label}"
        for end, label in (
            (RolloutEnd.GAME_OVER, "reached the end of the game"),
            (RolloutEnd.STEP_CAP, "cut at the step cap"),
            (RolloutEnd.OPPONENT_FORFEIT, "won only because the opponent moved illegally (not counted)"),
            (RolloutEnd.GAME_CRASH, "ended by a crash of the game (not counted)"),
            (RolloutEnd.DEAD_POSITION, "reached a position with no legal move, a game defect (not counted)"),
        )
        if end in ends
    )
    head = (
        seats
        + f"No illegal move and no code failure in {len(ev.rollouts)} games ({ev.steps} steps)"
        + (f": {counts}. " if counts else ". ")
        + f"Mean normalised reward: {ev.reward:.3f} (1 = best) over the {len(scored)} counted games; a game "
        "cut at the step cap scores what the game gives for the position reached. "
        "Improve propose_action's play to win more, keeping every move legal." + _time_note(ev)
    )
    games = ["Per game:\n" + "\n".join(_game_line(r) for r in ev.rollouts[: max(limit, 10)])]
    if len(ev.rollouts) > max(limit, 10):
        games.append(f"(and {len(ev.rollouts) - max(limit, 10)} more games)")
    worst = sorted(scored, key=lambda r: (seat_reward(r), -len(r.steps)))[: min(WORST_SHOWN, limit)]
    blocks = [f"### Worst game {i}\n{_worst_game(r)}" for i, r in enumerate(worst, 1)]
    return "\n\n".join([head, *games, *blocks])


def _dead_note(ev: Evaluation) -> str:
    """Games that reached a position with no legal move at all: said, never shown as the code's mistake."""
    dead = ev.dead_positions
    if not dead:
        return ""
    return (
        f" {dead} of the {len(ev.rollouts)} games reached a position where the player to move had no legal "
        "move at all (a defect of the game, which has no rule for it and keeps asking for a move): those "
        "games ended there and do not count against your code."
    )


def _time_note(ev: Evaluation) -> str:
    """Games the evaluation's time budget cut: the harness was too slow to finish them."""
    if not ev.time_cut:
        return ""
    slowest = ""
    if ev.slowest_call is not None:
        slowest = f"; the slowest call took {ev.slowest_call[0]:.2f} s ({ev.slowest_call[1]})"
    return (
        f" {ev.time_cut} of the {len(ev.rollouts)} games were cut by the evaluation's time budget of "
        f"{ev.eval_seconds:g} s before they ended (not counted){slowest}: make your code faster."
    )


def _explore_note(ev: Evaluation) -> str:
    explored = sum(s.played is not None for r in ev.rollouts for s in r.steps)
    if not explored:
        return ""
    return (
        f" To visit varied positions, {explored} of these steps played a different legal move after "
        "propose_action's proposal had been judged, so the observation after such a step follows the move "
        "actually played, not the proposal."
    )


def critique(ev: Evaluation, limit: int = 5) -> Feedback:
    """Feedback for the LLM about ``ev``, with at most ``limit`` failed steps."""
    if ev.static_issues:
        text = "The harness cannot be used as written:\n" + "\n".join(
            f"- {i.describe()}" for i in ev.static_issues
        )
        return Feedback(text, BOTH, len(ev.static_issues))
    if ev.load_failure is not None:
        text = "The harness could not be loaded.\n" + "\n".join(_failure_lines(ev.load_failure))
        return Feedback(text, BOTH, 1)
    groups: dict[str, dict[tuple[object, ...], tuple[str, str]]] = {}
    for seed, step in ev.failed_steps():
        key = (step.action, step.checker_said, step.env_reason, step.wrong_listed, _failure_key(step.failure))
        groups.setdefault(step.verdict.value, {}).setdefault(
            key, (_step_kind(step), _describe_step(seed, step))
        )
    for m in ev.mismatches:
        key = (m.action, m.checker_said, m.env_legal, m.env_reason, _failure_key(m.failure))
        groups.setdefault("probe", {}).setdefault(key, (BOTH, _describe_mismatch(m, ev.mode)))
    items = [
        x for batch in zip_longest(*(g.values() for g in groups.values())) for x in batch if x is not None
    ]
    total = len(ev.failed_steps()) + len(ev.mismatches)
    if not items:
        if ev.mode == "policy":
            return Feedback(_reward_text(ev, limit), BOTH, 0)
        text = f"All {ev.steps} steps in {len(ev.rollouts)} games were legal."
        return Feedback(text + _dead_note(ev) + _explore_note(ev) + _time_note(ev), BOTH, 0)
    kind = PROPOSER if ev.mode == "verifier" and all(k == PROPOSER for k, _ in items) else BOTH
    shown = items[:limit]
    header = (
        f"Legal-step rate {ev.legal_rate:.3f} over {len(ev.rollouts)} games ({ev.steps} steps)"
        + (f"; {len(ev.mismatches)} of {ev.probes} probed actions judged wrongly" if ev.probes else "")
        + f". {total} problem(s) found ({len(items)} distinct); {len(shown)} shown."
        + _dead_note(ev)
        + _explore_note(ev)
    )
    blocks = [f"### Problem {i}\n{text}" for i, (_, text) in enumerate(shown, 1)]
    return Feedback("\n\n".join([header, *blocks]), kind, total)


_VERIFY_HEADLINE = {
    "false_accept": "is_legal_action accepted a move the game rejects",
    "false_reject": "is_legal_action rejected a move the game accepts",
    "missing_legal": "legal_actions left out a move the game accepts",
    "listed_illegal": "legal_actions listed a move the game rejects",
    "illegal_proposal": "propose_action proposed a move the game rejects",
    "harness_failure": "the harness code failed",
}


def critique_verification(verification: dict[str, Any], limit: int = 5) -> Feedback:
    """Feedback from a verification (``autoharness.verify``, as stored in summary.json): its smallest
    counterexamples, found on held-out positions the training games never reached. Every function may
    change (``both``): the counterexamples are mostly the checker's."""
    examples = verification.get("counterexamples") or []
    shown = examples[:limit]
    header = (
        f"The harness was checked against the game on {verification['positions']} held-out positions "
        f"({verification['actions_checked']} actions): {verification['disagreements']} disagreement(s) — "
        f"{verification['false_accepts']} illegal move(s) accepted, {verification['false_rejects']} legal "
        f"move(s) rejected. The training games never reached these positions; {len(shown)} of the "
        "smallest are shown. Fix the rules they reveal, not only these positions."
    )
    blocks = []
    for i, ex in enumerate(shown, 1):
        lines = [
            f"### Problem {i}\nGame seed {ex['seed']}, ply {ex['ply']}, player {ex['player']}: "
            f"{_VERIFY_HEADLINE.get(ex['kind'], ex['kind'])}.",
            "Observation:\n" + _clip(ex["observation"]),
        ]
        if ex.get("action") is not None:
            lines.append(f"Action: {ex['action']!r}")
        if ex["kind"] == "harness_failure":
            lines.append(f"Code failure in {ex.get('function')}: {ex['harness_said']}")
        else:
            lines.append(f"The harness said: {ex['harness_said']}")
            reason = f" — {ex['reason']}" if ex.get("reason") else ""
            lines.append(f"The game said: {ex['game_said']}{reason}")
        blocks.append("\n".join(lines))
    return Feedback("\n\n".join([header, *blocks]), BOTH, int(verification["disagreements"]))


__all__ = ["BOTH", "PROPOSER", "Feedback", "critique", "critique_verification"]
