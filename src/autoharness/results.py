"""The reproduction tables: a suite's results beside the AutoHarness paper's published figures.

One builder (``suite_tables``) turns suite directories into plain ``Table``s — a heading, columns, rows of
text, the paper's columns marked, notes — and two renderers show the same tables: ``markdown`` (for
``autoharness results``, which writes ``docs/results.md``) and ``autoharness.report`` (HTML).

Honesty rules the tables keep: every heading names who answered the learning prompts (the model labels the
suite recorded, ``autoharness.llm.provenance``) and says it is not the paper's model; the paper's figures
stand only beside ours of the same kind (``autoharness.paper``); a failed game stays in the table with its
reason; anything that could make a number mislead (a harness reused from its family, no verification,
dead positions, forfeits, cut or unplayed matches) is written next to it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._files import atomic_write
from .envs import get_spec, make
from .evaluate import EVAL_FILE, FORFEIT_NOTE, MATCHES, MAX_STEPS
from .learn.config import EVAL_SEED_START
from .llm.provenance import model_label
from .paper import AGENT_COLUMN, LEARNING_MODE, PAPER_COLUMNS, paper_agent, paper_table
from .suite import (
    QUICK_ITERATIONS,
    SuiteManifest,
    by_play,
    converged,
    read_summary,
    solved,
)
from .verify import shortfall

PAPER_MODEL = "Gemini-2.5-Flash"
"""The model that wrote and refined the paper's harnesses (its learning figures)."""
PAPER_MAX_POLICY_ITERATIONS = 256
"""The paper's iteration budget for learning a harness as policy."""
NUMERIC = re.compile(r"^[-+]?[\d.,]+$|^—$|^\d+ / \d+ / \d+$")
"""A cell that reads as a number (right-aligned in both renderers)."""
MAX_REASON = 160
"""Characters of a failure's reason kept in a table cell (the whole traceback is in the game's error.txt)."""


@dataclass(frozen=True, slots=True)
class Table:
    """A table as text: what both renderers show, cell for cell."""

    heading: str
    columns: list[str]
    rows: list[list[str]]
    paper: frozenset[int] = frozenset()  # indices of the paper's columns (shaded in HTML)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- cells


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _reason(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def verification_cell(verification: dict[str, Any] | None, verify_positions: int) -> str:
    """Positions checked and disagreements, or why the harness was not verified; beside the count, why it is
    short of the ``verify_positions`` asked (a wall-time cut told apart from a stop by a count) and what was
    skipped unchecked (``verify.shortfall``)."""
    if not verification:
        if verify_positions == 0:
            return "not verified: verification was off (verify_positions 0)"
        return "not verified: no verification recorded"
    positions = verification.get("positions") or 0
    headline = str(verification.get("headline") or "")
    if positions == 0:
        return _reason(headline or "not verified: no position could be checked")
    notes = shortfall(verification, verify_positions)
    cut = f" ({'; '.join(notes)})" if notes else ""
    if verification.get("passed"):
        return f"{positions} positions, 0 disagreements{cut}"
    detail = ", ".join(
        f"{n} {what}"
        for n, what in (
            (verification.get("false_accepts"), "false accepts"),
            (verification.get("false_rejects"), "false rejects"),
        )
        if n
    )
    return (
        f"FAIL: {verification.get('disagreements')} disagreements in {positions} positions"
        + (f" ({detail})" if detail else "")
        + cut
    )


def run_config(manifest: SuiteManifest, game: str) -> dict[str, Any] | None:
    """The learning config a game's run stored (``learn/run.sqlite``, key ``config``): what actually ran,
    which can differ from ``suite.json``'s (a game learned before the suite was resumed with other
    settings). Opened read-only: the suite may be running. None when there is no run or it cannot be read."""
    path = manifest.game_dir(game) / "learn" / "run.sqlite"
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        finally:
            db.close()
        config = json.loads(row[0]) if row else None
    except (sqlite3.Error, ValueError, TypeError):
        return None
    return config if isinstance(config, dict) else None


def _config_differences(manifest: SuiteManifest, game: str) -> dict[str, tuple[Any, Any]]:
    """The learning settings a game's stored run config gives otherwise than ``suite.json``: name → (ran,
    suite's)."""
    ran = run_config(manifest, game) or {}
    suite = manifest.config.learn.to_dict()
    return {k: (v, suite.get(k)) for k, v in sorted(ran.items()) if k in suite and suite[k] != v}


def _dead_cell(verification: dict[str, Any] | None, learn_summary: dict[str, Any], ev: dict[str, Any]) -> str:
    """Positions where the player to move had no legal move at all (a defect of the game), wherever seen."""
    parts = [
        f"{n} {where}"
        for n, where in (
            ((verification or {}).get("dead_positions"), "in verification"),
            (learn_summary.get("dead_positions"), "in training episodes"),
            (ev.get("dead_positions"), "in evaluation matches"),
        )
        if n
    ]
    return "; ".join(parts) or "0"


def _source_cell(game: str, result: dict[str, Any]) -> str:
    seed = result.get("seeded_from")
    if seed == game:  # the library already held one for this game (an earlier run): started from it
        how = "reused" if result.get("reused") else "refined"
        return f"{how} from this game's earlier library harness (whose learning is not counted here)"
    if result.get("reused"):
        return f"reused from {seed} (no learning of its own)"
    if seed:
        return f"refined from {seed}'s harness"
    return "learned"


def answerers(manifest: SuiteManifest) -> list[str]:
    """Who answered the suite's learning prompts: the model labels its games recorded (a failed game's
    from its learning run's summary), distinct, sorted."""
    labels = set()
    for game, record in manifest.games.items():
        result = record.get("result") or {}
        if result.get("model"):
            labels.add(str(result["model"]))
        elif record["status"] == "failed":
            summary = read_summary(manifest.game_dir(game) / "learn" / "summary.json")
            if isinstance(summary.get("model"), str):
                labels.add(model_label(summary["model"], summary.get("answered_by") or []))
    return sorted(labels)


def who(manifest: SuiteManifest) -> str:
    """The heading's statement of who answered: never the paper's model unless it was."""
    labels = answerers(manifest)
    if not labels:
        return f"no game finished yet (configured model: {manifest.config.llm or 'none'})"
    many = "models" if len(labels) > 1 else "model"
    return f"{many} {'; '.join(labels)} — not the paper's {PAPER_MODEL}"


def _suite_name(manifest: SuiteManifest) -> str:
    cfg = manifest.config
    return f"{cfg.learn.mode} suite `{manifest.directory}` ({_games(len(manifest.games))})"


def _games(n: int) -> str:
    return f"{n} game" + "s" * (n != 1)


def _status(record: dict[str, Any], mode: str) -> str:
    """Solved (legal rate 1.0 and verified), or what it lacks. A policy harness is "legal, verified": a
    policy is learned for reward (H), and legality alone does not make it solve its game."""
    status = record["status"]
    if status != "done":
        return "FAILED" if status == "failed" else f"{status} (not finished)"
    learned = (record.get("result") or {}).get("learned") or {}
    if solved(learned):
        return "legal, verified" if mode == "policy" else "solved"
    if not converged(learned):
        return "done, legal rate < 1"
    return "done, not verified" if not (learned.get("verification") or {}).get("positions") else "done, FAIL"


# ---------------------------------------------------------------- tables


def learning_table(manifest: SuiteManifest) -> Table:
    """One row per game: how learning went, beside the paper's learning figures (verifier suites only)."""
    cfg = manifest.config
    mode = cfg.learn.mode
    verifier = mode == LEARNING_MODE
    policy = mode == "policy"
    columns = ["game", "players", "status", "iterations", "LLM calls"]
    columns += ["paper: learning steps"] if verifier else []
    columns += ["legal rate"] + (["paper: legal rate"] if verifier else []) + (["H"] if policy else [])
    columns += ["verification (held-out positions)", "dead positions", "harness", "notes"]
    rows = []
    for row in manifest.table():
        game = row["game"]
        record = manifest.games[game]
        result = record.get("result") or {}
        learned = result.get("learned") or {}
        done = record["status"] == "done"
        summary = read_summary(manifest.game_dir(game) / "learn" / "summary.json") if done else {}
        notes = []
        if record["status"] == "failed" and row["error"]:
            notes.append(_reason(row["error"]))
        if done and not solved(learned) and learned.get("stop_reason"):
            notes.append(f"stopped: {learned['stop_reason']}")
        if learned.get("verify_repairs"):  # suite --refine-on-verify: the loop repaired what verify found
            notes.append(f"refined {learned['verify_repairs']}× on verification counterexamples")
        differs = _config_differences(manifest, game) if done else {}
        if differs:
            notes.append(
                "its run's stored config differs from suite.json: "
                + ", ".join(f"{k} {_num(ran)} (suite.json: {_num(was)})" for k, (ran, was) in differs.items())
            )
        asked = (
            differs["verify_positions"][0] if "verify_positions" in differs else cfg.learn.verify_positions
        )
        cells = [
            game,
            str(row["players"]),
            _status(record, mode),
            _num(row["iterations"]),
            _num(row["llm_calls"]),
        ]
        cells += [_num(row["paper_learning_steps"])] if verifier else []
        cells += [_num(row["legal_rate"])]
        cells += [_num(row["paper_legal_rate"])] if verifier else []
        cells += [_num(row["h"])] if policy else []
        cells += [
            verification_cell(learned.get("verification"), asked) if done else "—",
            _dead_cell(learned.get("verification"), summary, result.get("eval") or {}) if done else "—",
            _source_cell(game, result) if done else "—",
            "; ".join(notes),
        ]
        rows.append(cells)
    notes = [
        "Solved: legal rate 1.0 on the training rollouts and 0 disagreements with the game's own rules on "
        "held-out positions (`autoharness verify`). A failed game stays here with its reason.",
        "A harness reused from its family was checked on this game's training seeds (and verified here) but "
        "cost no iteration and no LLM call of its own; one refined from a library harness counts only its "
        "own iterations and LLM calls, not those that made the harness it started from.",
        "Dead positions: the player to move had no legal move at all (a defect of the game); they are left "
        "out of the legal rate, the verification figures and the rewards.",
        _config_note(manifest),
    ]
    if verifier:
        notes.append(
            "The paper's learning steps and legal rates are its published per-game figures, learned with "
            f"{PAPER_MODEL}."
        )
    else:
        notes.append(
            f"The paper published no per-game learning figures for {mode} harnesses: none are shown. "
            f"Learning was capped at {cfg.learn.max_iterations} iterations per game"
            + (f" (the paper: up to {PAPER_MAX_POLICY_ITERATIONS})." if policy else ".")
        )
    return Table(
        f"Learning ({mode} harnesses), one row per game — answered by {who(manifest)}",
        columns,
        rows,
        frozenset(i for i, c in enumerate(columns) if c.startswith("paper:")),
        notes,
    )


def _config_note(manifest: SuiteManifest) -> str:
    """What suite.json says ran: the settings a row's figures depend on, and how far that record goes."""
    cfg = manifest.config
    return (
        f"Settings (suite.json): {cfg.learn.verify_positions} held-out positions asked per verification; "
        f"up to {cfg.refine_on_verify} rounds of refinement on verification counterexamples per game "
        "(refine_on_verify: suite.json keeps the value of its last start or resume, not each game's — a "
        "game's notes say the rounds it used; a game that passed verification was not re-run when the value "
        f"changed); evaluations: a {_num(cfg.learn.eval_seconds, 0)} s time budget per game, matches cut at "
        f"{MAX_STEPS} plies. A game whose run stored other learning settings says so in its notes."
    )


def _agent_text(manifest: SuiteManifest) -> str:
    cfg = manifest.config
    agents = manifest.eval_agents()
    if not agents:
        what = "none (the suite evaluates no agent)"
    elif agents == ["policy"]:
        what = f"`policy` (the {cfg.learn.mode}-mode harness's propose_action plays alone, no LLM)"
    else:
        what = ", ".join(f"`{a}`" for a in agents)
    cap = f"{cfg.learn.max_iterations} iterations"
    if cfg.learn.mode == "policy":
        cap += f" (the paper: up to {PAPER_MAX_POLICY_ITERATIONS})"
    return f"agent {what}; harnesses learned in at most {cap} from replies by {who(manifest)}"


def _eval_flags(
    ev: dict[str, Any], players: int, matches: int, own_limit: tuple[int, int] | None = None
) -> list[str]:
    """What could make an evaluation's figure mislead, said next to it: matches not played (the time
    budget, an abort), forfeits, matches cut at our step cap or ended at the game's own turn limit (scored by
    completion, not finished), matches without a result."""
    flags = []
    played = ev.get("matches")
    budget = ev.get("eval_seconds")
    if ev.get("time_cut") or ev.get("not_started"):
        flags.append(
            f"only {played} of {matches} matches played: the "
            + (f"{budget:g} s " if isinstance(budget, int | float) else "")
            + f"evaluation time budget cut {ev.get('time_cut') or 0} and left {ev.get('not_started') or 0} "
            "unstarted (not played: left out of every figure)"
        )
    elif played is not None and played < matches:
        flags.append(f"only {played} of {matches} matches played")
    if players == 1 and ev.get("forfeits"):
        flags.append(f"{ev['forfeits']} of {played} ended by the agent's illegal move (a forfeit)")
    if players == 1 and ev.get("cut"):
        flags.append(
            f"{ev['cut']} of {played} cut at the {MAX_STEPS}-ply step cap, not finished (scored by the "
            "game's value of the position reached)"
        )
    if own_limit:
        flags.append(
            f"{own_limit[0]} of {played} ended unsolved at the game's own {own_limit[1]}-turn limit, scored "
            "by completion"
        )
    if players == 2 and ev.get("cut"):
        flags.append(
            f"{ev['cut']} of the draws are matches cut at the {MAX_STEPS}-ply step cap (not ended by play)"
        )
    if ev.get("dead_positions"):
        flags.append(f"{ev['dead_positions']} no result: no legal move existed (left out)")
    if ev.get("aborted"):
        flags.append(f"stopped early: {_reason(str(ev['aborted']))}")
    if ev.get("harness_failures"):
        flags.append(f"{ev['harness_failures']} harness failures")
    if ev.get("fallback_moves"):
        flags.append(f"{ev['fallback_moves']} fallback moves")
    return flags


def own_limit_ends(manifest: SuiteManifest, game: str) -> tuple[int, int] | None:
    """(matches, limit): a 1-player game's evaluation matches that ended at the game's own turn limit
    without solving it (reward < 1), which the game scores by its completion — an end by its rules, so not
    in ``cut``, but not a finished puzzle either (FifteenPuzzle-v0: 200 turns). Read from the game's
    ``eval/eval.json`` records (when they are the suite's evaluation: the same agent and seeds); None when
    there are none, or the game has no turn limit or no completion measure."""
    ev = ((manifest.games[game].get("result") or {}).get("eval")) or {}
    if not ev.get("matches"):
        return None
    try:
        payload = json.loads((manifest.game_dir(game) / "eval" / EVAL_FILE).read_text(encoding="utf-8"))
        records = next(
            r["match_records"]
            for r in payload["results"]
            if r.get("agent") == ev.get("agent") and r.get("seeds") == ev.get("seeds")
        )
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
    env = make(game)
    env.reset(EVAL_SEED_START)
    limit = getattr(env, "turn_limit", lambda: None)()
    scored = getattr(env, "cut_rewards", lambda: None)()  # None: no completion measure (Bandit, Secretary)
    if limit is None or scored is None:
        return None
    ends = sum(
        1
        for m in records
        if isinstance(m, dict)
        and m.get("ended") == "done"
        and (m.get("steps") or 0) >= limit
        and (m.get("reward") if isinstance(m.get("reward"), int | float) else 1.0) < 1.0
    )
    return (ends, limit) if ends else None


def _eval_row_start(manifest: SuiteManifest, game: str) -> tuple[list[str], dict[str, Any], list[str]]:
    """The cells every evaluation row starts with (game, status), its eval summary, and its first notes."""
    record = manifest.games[game]
    result = record.get("result") or {}
    notes = []
    if result.get("reused"):
        notes.append(f"harness reused from {result.get('seeded_from')}")
    if record["status"] == "failed" and record.get("error"):
        notes.append(_reason(str(record["error"].get("message"))))
    if record["status"] == "done" and not result.get("eval"):
        notes.append("not evaluated")
    return [game, _status(record, manifest.config.learn.mode)], result.get("eval") or {}, notes


def one_player_table(manifest: SuiteManifest) -> Table | None:
    """The paper's 16 one-player evaluation games in this suite: our mean reward beside its six columns."""
    games = [g for g in manifest.games if get_spec(g).players == 1 and g in paper_table("reward_1p")]
    if not games:
        return None
    cfg = manifest.config
    agents = manifest.eval_agents()
    matches = cfg.matches or MATCHES[1]
    same = paper_agent(games[0], agents[0]) if len(agents) == 1 else None
    paper_cols = list(PAPER_COLUMNS)
    columns = ["game", "status", "matches", "mean reward", "legal rate"]
    columns += [
        f"paper: {PAPER_COLUMNS[c]}" + (" (same kind)" if same and c == same.column else "")
        for c in paper_cols
    ]
    columns += ["notes"]
    rows = []
    for game in games:
        cells, ev, notes = _eval_row_start(manifest, game)
        paper = paper_table("reward_1p")[game]
        cells += [_num(ev.get("matches")), _num(ev.get("mean_reward")), _num(ev.get("legal_rate"))]
        cells += [_num(float(paper[c])) for c in paper_cols]
        cells.append("; ".join(notes + _eval_flags(ev, 1, matches, own_limit_ends(manifest, game))))
        rows.append(cells)
    notes = [
        f"Mean reward over {matches} matches per game (the paper: 20), seeds the learner never trained on; "
        "matches with no result (no legal move existed) are left out of the mean.",
        "The paper's six columns are its published rewards (Gemini-2.5-Flash, Gemini-2.5-Pro, Flash with "
        "its verifier harness, GPT-5.2, GPT-5.2-High, harness as policy); "
        + (
            f'the one marked "same kind" is the agent ours compares with ({same.column}).'
            if same
            else "none is the same kind of agent as ours."
        ),
    ]
    if agents == ["policy"] and cfg.learn.mode != "policy":
        notes.append(
            f"Ours plays the propose_action of a harness learned in {cfg.learn.mode} mode (for legal moves), "
            "not one learned as a policy as the paper's harness-as-policy column was."
        )
    return Table(
        f"1-player evaluation games: mean reward — ours: {_agent_text(manifest)}",
        columns,
        rows,
        frozenset(i for i, c in enumerate(columns) if c.startswith("paper:")),
        notes,
    )


def two_player_table(manifest: SuiteManifest) -> Table | None:
    """The paper's 16 two-player evaluation games in this suite: W/D/L vs the opponent, forfeits apart."""
    games = [g for g in manifest.games if get_spec(g).players == 2 and get_spec(g).eval_set]
    if not games:
        return None
    cfg = manifest.config
    matches = cfg.matches or MATCHES[2]
    columns = ["game", "status", "opponent", "matches", "W / D / L by play", "W by opp. forfeit"]
    columns += ["L by own forfeit", "cut at step cap", "legal rate", "opp. legal rate", "notes"]
    rows = []
    for game in games:
        cells, ev, notes = _eval_row_start(manifest, game)
        if ev.get("matches"):
            o = by_play(ev)
            wdl = f"{o['wins_by_play']} / {o['draws']} / {o['losses_by_play']}"
            more = [_num(o["wins_by_forfeit"]), _num(o["losses_by_forfeit"]), _num(o["cut"])]
        else:
            wdl, more = "—", ["—", "—", "—"]
        cells += [_num(ev.get("opponent")), _num(ev.get("matches")), wdl, *more]
        cells += [_num(ev.get("legal_rate")), _num(ev.get("opponent_legal_rate"))]
        cells.append("; ".join(notes + _eval_flags(ev, 2, matches)))
        rows.append(cells)
    notes = [
        f"{matches} matches per game (the paper: 40), seats split evenly; opponent `random` is the legal "
        "random player (a uniformly random legal move). The paper published no per-game 2-player figures "
        "for this agent.",
        f"W / D / L: {FORFEIT_NOTE}. Draws include matches cut at the step cap.",
    ]
    return Table(
        f"2-player evaluation games: wins / draws / losses — ours: {_agent_text(manifest)}",
        columns,
        rows,
        notes=notes,
    )


def totals_table(manifests: Sequence[SuiteManifest]) -> Table:
    """The aggregates the paper reports, ours beside the paper's over the same games
    (``SuiteManifest.totals``)."""
    rows: list[list[str]] = []
    for m in manifests:
        t = m.totals()
        mode = m.config.learn.mode
        suite = f"{mode} ({_games(len(m.games))})"
        unfinished = t["pending"] + t["running"]
        # the paper's figures are over the finished games only (``SuiteManifest.finished``): say so
        finished = f"the same {_games(t['done'] + t['failed'])} (the finished ones)"
        same = f", over {finished}" if unfinished else ""

        done = f"ours over the {_games(t['done'])} done" + (
            f" ({t['failed']} failed, {unfinished} not finished: left out)"
            if t["failed"] and unfinished
            else f" ({unfinished} not finished: left out)"
            if unfinished
            else f" ({t['failed']} failed: left out)"
            if t["failed"]
            else ""
        )

        def add(
            figure: str, ours: Any, paper: Any, note: str = "", digits: int = 2, suite: str = suite
        ) -> None:
            rows.append([figure, suite, _num(ours, digits), _num(paper, digits), note])

        add(
            "games done / failed / not finished",
            f"{t['done']} / {t['failed']} / {unfinished}",
            None,
            f"{t['reused']} reused a family harness"
            + (f"; failed: {_names(m, ('failed',))}" if t["failed"] else "")
            + (
                f"; the suite is incomplete, not finished: {_names(m, ('running', 'pending'))}"
                if unfinished
                else ""
            ),
        )
        add(
            "games legal (rate 1.0) and verified"
            if mode == "policy"
            else "games solved (legal rate 1.0 and verified)",
            t["solved"],
            t["paper_solved"],
            "; ".join(
                ([done] if done != f"ours over the {_games(t['done'])} done" else [])
                + (
                    ["the paper's: games whose published legal-action rate is 1.0" + same]
                    if t["paper_solved"] is not None
                    else []
                )
            ),
        )
        add(
            "LLM calls to learn (sum)",
            t["llm_calls"],
            t["paper_learning_steps"],
            "; ".join(
                ([done] if done != f"ours over the {_games(t['done'])} done" else [])
                + (
                    ["a failed game's calls are not counted (they are in its run's summary.json)"]
                    if t["failed"]
                    else []
                )
                + (
                    ["paper: learning steps summed over the same games" + same]
                    if t["paper_learning_steps"] is not None
                    else []
                )
            ),
        )
        if t["eval_set_games"]:
            add(
                "mean iterations over the evaluation set",
                t["mean_iterations_eval_set"],
                t["paper_mean_steps_eval_set"],
                f"ours over {t['eval_set_done']} of {_games(t['eval_set_games'])}"
                + _left_out(
                    m, [g for g in m.games if get_spec(g).eval_set], _iterated(m), "no iteration count"
                )
                + ("; the paper's: mean learning steps over the same games" if mode == LEARNING_MODE else "")
                + (f", {t['eval_set_reused']} reused (0 iterations)" if t["eval_set_reused"] else ""),
            )
        if mode != "policy":  # a policy is learned for reward: legal rate 1.0 is not its convergence
            add(
                f"games converged in under {QUICK_ITERATIONS} iterations",
                t["converged_under_10"],
                t["paper_under_10"],
                f"legal rate 1.0 reached, {done}"
                + (f"; the paper's over {finished}" if unfinished else "")
                + (
                    f"; {t['converged_under_10_reused']} of ours reused (0 iterations)"
                    if t["converged_under_10_reused"]
                    else ""
                ),
            )
        if t["reward_1p_games"]:
            agents = m.eval_agents()
            agent = agents[0] if len(agents) == 1 else None
            column = AGENT_COLUMN.get((agent or "").split(":", 1)[0])
            one = [g for g in m.games if get_spec(g).players == 1 and g in paper_table("reward_1p")]
            note = f"ours over {t['reward_1p_done']} of {_games(t['reward_1p_games'])}"
            note += _left_out(m, one, [g for g in one if _ev(m, g).get("mean_reward") is not None])
            note += f", agent {', '.join(agents) or 'none'}"
            if agent == "policy" and mode != "policy":
                note += f" (the {mode}-mode harness's propose_action, not a policy-mode harness)"
            if column and t["paper_reward_1p_mean_all"] is not None:
                note += f"; the paper's {PAPER_COLUMNS[column]} over all {t['reward_1p_games']}: "
                note += _num(t["paper_reward_1p_mean_all"])
            if m.config.learn.mode == "policy":
                note += (
                    f"; learning capped at {m.config.learn.max_iterations} iterations (the paper: up to 256)"
                )
            note += _partial(m, one, 1)
            add("1-player mean reward", t["reward_1p_mean"], t["paper_reward_1p_mean"], note, digits=3)
        if t["wdl_2p_games"]:
            w = t["wdl_2p"]
            wdl = f"{w['wins_by_play']} / {w['draws']} / {w['losses_by_play']}" if w else None
            two = [g for g in m.games if get_spec(g).players == 2 and get_spec(g).eval_set]
            note = f"ours over {t['wdl_2p_done']} of {_games(t['wdl_2p_games'])}"
            note += _left_out(m, two, [g for g in two if _ev(m, g).get("matches")])
            note += ", vs the legal random player"
            if w:
                note += (
                    f"; by forfeit apart: {w['wins_by_forfeit']} W, {w['losses_by_forfeit']} L; "
                    f"{w['cut']} cut at the step cap; {w['dead_positions']} no result; {w['matches']} matches"
                )
            note += _partial(m, two, 2)
            add("2-player W / D / L by play", wdl, None, note)
    heads = "; ".join(f"{m.config.learn.mode} suite: {who(m)}" for m in manifests)
    return Table(
        f"Totals against the paper — answered by {heads}",
        ["figure", "suite", "ours", "paper", "notes"],
        rows,
        frozenset({3}),
        [
            "The paper's figures are over the same games as ours (its published per-game tables), unless a "
            "note says otherwise; ours count finished games only."
        ],
    )


def _names(m: SuiteManifest, statuses: tuple[str, ...]) -> str:
    return ", ".join(f"{g} ({r['status']})" for g, r in m.games.items() if r["status"] in statuses)


def _ev(m: SuiteManifest, game: str) -> dict[str, Any]:
    """A done game's evaluation summary (empty when it has none, or the game is not done)."""
    record = m.games[game]
    return ((record.get("result") or {}).get("eval") or {}) if record["status"] == "done" else {}


def _iterated(m: SuiteManifest) -> list[str]:
    """The done games with an iteration count (what the mean iterations are over)."""
    return [
        g
        for g, r in m.games.items()
        if r["status"] == "done"
        and ((r.get("result") or {}).get("learned") or {}).get("iterations") is not None
    ]


def _left_out(m: SuiteManifest, games: list[str], counted: list[str], missing: str = "not evaluated") -> str:
    """Which of ``games`` a total leaves out and why (failed, pending, running, or done without the figure:
    ``missing``)."""
    out = [
        f"{g} ({r['status'] if r['status'] != 'done' else missing})"
        for g in games
        if g not in counted and (r := m.games[g])
    ]
    return f" (left out: {', '.join(out)})" if out else ""


def _partial(m: SuiteManifest, games: list[str], players: int) -> str:
    """The evaluations inside a total whose matches were not all played to an end by play (the per-game
    tables say how each figure is affected): named, so the total is not read as over full evaluations."""
    matches = m.config.matches or MATCHES[players]
    parts = []
    for g in games:
        ev = _ev(m, g)
        if not ev.get("matches"):
            continue
        what = []
        if (ev.get("time_cut") or ev.get("not_started")) or ev["matches"] < matches:
            what.append(f"{ev['matches']} of {matches} matches played")
        if ev.get("cut"):
            what.append(f"{ev['cut']} cut at the step cap")
        if players == 1 and (own := own_limit_ends(m, g)):
            what.append(f"{own[0]} ended at its own turn limit, scored by completion")
        if ev.get("forfeits") or ev.get("opponent_forfeits"):
            what.append(
                f"{ev.get('forfeits') or 0} own and {ev.get('opponent_forfeits') or 0} opponent forfeits"
            )
        if ev.get("dead_positions"):
            what.append(f"{ev['dead_positions']} no result")
        if what:
            parts.append(f"{g}: {', '.join(what)}")
    return f"; includes {'; '.join(parts)}" if parts else ""


def suite_tables(manifest: SuiteManifest) -> list[Table]:
    """Every table of one suite: learning, then its evaluation games (1-player, 2-player)."""
    tables = [learning_table(manifest), one_player_table(manifest), two_player_table(manifest)]
    return [t for t in tables if t is not None]


# ---------------------------------------------------------------- markdown


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|") or " "


def markdown_table(table: Table, level: int = 2) -> str:
    """A table as GitHub markdown: heading, the table (numbers right-aligned), its notes."""
    numeric = [
        bool(table.rows) and all(NUMERIC.match(r[i]) for r in table.rows) for i in range(len(table.columns))
    ]
    lines = [f"{'#' * level} {table.heading}", ""]
    lines.append("| " + " | ".join(_md_cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in table.rows]
    lines += [""] + [f"- {note}" for note in table.notes] if table.notes else []
    return "\n".join(lines) + "\n"


def load_suites(directories: Sequence[str | Path]) -> list[SuiteManifest]:
    """The suites in ``directories`` (each checked as ``--resume`` checks it: a damaged one is one line)."""
    return [SuiteManifest.load(Path(d)) for d in directories]


def markdown(manifests: Sequence[SuiteManifest], command: str) -> str:
    """The whole results page: where it came from, the totals, then every suite's tables."""
    parts = [
        "# Results: autoharness on the AutoHarness paper's games",
        "",
        f"Generated by `{command}` from the suite directories named below; do not edit by hand — run the "
        "command again.",
        "",
        "These runs measure the model(s) named in each heading, answering through autoharness's own loop — "
        f"not {PAPER_MODEL}, which wrote the paper's harnesses. The paper's figures (shaded columns in the "
        'HTML report, `paper:` here) are the published ones of Lou et al., "AutoHarness: improving LLM '
        'agents by automatically synthesizing a code harness" (Google DeepMind, arXiv 2603.03329, 2026), '
        "shown as reference values, never as outputs of this tool.",
        "",
        markdown_table(totals_table(manifests)),
    ]
    for m in manifests:
        name = _suite_name(m)
        parts += [f"## {name[0].upper()}{name[1:]}", ""]
        parts += [markdown_table(t, 3) for t in suite_tables(m)]
    return "\n".join(parts)


def write_results(directories: Sequence[str | Path], out: str | Path | None, command: str) -> str:
    """Render the suites as markdown; write it to ``out`` (atomically) when given. Returns the text."""
    text = markdown(load_suites(directories), command)
    if out is not None:
        atomic_write(Path(out), text)
    return text


__all__ = [
    "Table",
    "answerers",
    "learning_table",
    "load_suites",
    "markdown",
    "markdown_table",
    "one_player_table",
    "suite_tables",
    "totals_table",
    "two_player_table",
    "verification_cell",
    "who",
    "write_results",
]
