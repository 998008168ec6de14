"""Checking replays against the built-in library: did the shipped transcripts give the shipped harnesses?

``autoharness suite`` (or ``learn``) with no model replays the campaign's recorded runs
(``autoharness.builtin``); ``autoharness library check DIR...`` then compares what those replays produced,
game by game, with what ships: iterations, LLM calls, legal rate, H, the verification's positions,
disagreements and dead positions, and the harness code but for its ``# date:`` and ``# run id:`` header
lines (the only ones a faithful replay changes). A replay that asked for a reply its transcript does not
hold stops with a ``ReplayMiss``; the check says so instead of comparing.

Both kinds of directory are read: a suite directory (``suite.json``; each game's ``games/GAME/harness.py``
and its record) and a learn run directory (``summary.json`` and ``harness.py``). Only the directories are
read; nothing is run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .builtin import BuiltinLibrary
from .errors import ConfigError, RunStoreError
from .learn.store import RunStore
from .suite import SUITE_FILE, SuiteManifest
from .verify import TIME_CUT

VOLATILE_HEADER = ("# date:", "# run id:")
"""Harness header lines a replay rewrites (when and under which id it ran): ignored by the comparison."""

SAME, DIFFERS, MISS, FAILED, STOPPED, NOT_RUN, NOT_SHIPPED = (
    "same",
    "differs",
    "ReplayMiss",
    "failed",
    "stopped",
    "not run",
    "not shipped",
)
"""A row's verdict. Every one but ``same`` and ``not run`` makes the check fail."""

FIGURES = ("iterations", "llm_calls", "legal_rate", "h")
VERIFICATION = ("positions", "disagreements", "dead_positions")


@dataclass(frozen=True, slots=True)
class Replay:
    """What one replayed run left on disk."""

    game: str
    mode: str
    where: Path  # the suite or run directory it was read from
    status: str  # "done"; "failed" (the suite recorded an error); "stopped" (a run without its summary);
    # "pending" or "running" (a suite's game not finished)
    figures: dict[str, Any]  # iterations, llm_calls, legal_rate, h, verification (as the run stored them)
    code: str | None  # the harness it ended with
    error: dict[str, str] | None = None  # a failed suite game's {kind, type, message}


@dataclass(frozen=True, slots=True)
class Row:
    """One game's verdict."""

    game: str
    mode: str
    verdict: str
    detail: str = ""

    def ok(self, required: bool = False) -> bool:
        """Whether this row passes the check (a game not run fails only when it was ``required``)."""
        return self.verdict == SAME or (self.verdict == NOT_RUN and not required)


def read_replays(dirs: Sequence[Path]) -> list[Replay]:
    """Every replayed run in ``dirs`` (suite directories or learn run directories); a game replayed twice in
    the same mode is an error (which one should be checked?)."""
    replays: list[Replay] = []
    seen: dict[tuple[str, str], Path] = {}
    for directory in dirs:
        directory = Path(directory)
        if (directory / SUITE_FILE).is_file():
            found = _suite_replays(directory)
        elif (directory / RunStore.FILE).is_file() or (directory / "summary.json").is_file():
            found = [_run_replay(directory)]
        else:
            raise ConfigError(
                f"{directory} is neither a suite directory ({SUITE_FILE}) nor a learn run directory "
                f"({RunStore.FILE}, summary.json)"
            )
        for replay in found:
            key = (replay.game, replay.mode)
            if key in seen:
                raise ConfigError(
                    f"{replay.game} ({replay.mode}) is replayed in both {seen[key]} and {directory}"
                )
            seen[key] = directory
            replays.append(replay)
    return replays


def _suite_replays(directory: Path) -> list[Replay]:
    manifest = SuiteManifest.load(directory)
    mode = manifest.config.learn.mode
    out = []
    for game, record in manifest.games.items():
        status = record["status"]
        if status not in ("done", "failed"):  # pending or running: not (yet) replayed
            out.append(Replay(game, mode, directory, status, {}, None))
            continue
        learned = (record.get("result") or {}).get("learned") or {}
        code = None
        if status == "done":
            path = manifest.game_dir(game) / "harness.py"
            code = _read(path)
        out.append(Replay(game, mode, directory, status, learned, code, record.get("error")))
    return out


def _run_replay(directory: Path) -> Replay:
    summary_path = directory / "summary.json"
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {summary_path}: {exc}") from exc
        if not isinstance(summary, dict) or not isinstance(summary.get("game"), str):
            raise ConfigError(f"{summary_path} is not a learn run's summary")
        harness = directory / "harness.py"
        code = _read(harness) if harness.is_file() else None
        return Replay(summary["game"], str(summary.get("mode")), directory, "done", summary, code)
    try:  # no summary: the run stopped before it finished (a ReplayMiss, a crash, an interruption)
        store = RunStore(directory, create=False)
        try:
            meta = store.meta()
            calls = len(store.calls())
        finally:
            store.close()
    except RunStoreError as exc:
        raise ConfigError(str(exc)) from exc
    config = meta.get("config") or {}
    if not isinstance(meta.get("game"), str) or not isinstance(config, dict):
        raise ConfigError(f"{directory} holds no started learning run")
    return Replay(meta["game"], str(config.get("mode")), directory, "stopped", {"llm_calls": calls}, None)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def check(
    dirs: Sequence[Path], games: Sequence[str] | None = None, builtin: BuiltinLibrary | None = None
) -> list[Row]:
    """One row per game: every shipped game of the modes replayed in ``dirs`` (only ``games``, if given),
    and every replayed game the library does not ship."""
    builtin = builtin if builtin is not None else BuiltinLibrary()
    replays = {(r.game, r.mode): r for r in read_replays(dirs)}
    modes = sorted({mode for _, mode in replays})
    shipped = {(e.game, e.mode) for m in modes for e in builtin.entries(mode=m)}
    shipped |= {(r.game, r.mode) for m in modes for r in builtin.runs(m)}
    keys = shipped | set(replays)
    if games is not None:
        wanted = set(games)
        keys = {(g, m) for g, m in keys if g in wanted} | {(g, m) for g in wanted for m in modes}
    rows = [_row(game, mode, replays.get((game, mode)), builtin) for game, mode in keys]
    return sorted(rows, key=lambda r: (r.mode, r.game))


def _row(game: str, mode: str, replay: Replay | None, builtin: BuiltinLibrary) -> Row:
    entry, run = builtin.get(game, mode), builtin.run(game, mode)
    if entry is None and run is None:
        if replay is None:
            return Row(game, mode, NOT_SHIPPED, "nothing shipped for it, nothing replayed")
        return Row(game, mode, NOT_SHIPPED, f"replayed in {replay.where}, but the library ships no run of it")
    if replay is None:
        return Row(game, mode, NOT_RUN)
    if replay.status not in ("done", "failed", "stopped"):
        return Row(game, mode, NOT_RUN, f"{replay.status} in {replay.where}")
    if replay.status == "stopped":
        calls = replay.figures["llm_calls"]
        return Row(
            game, mode, STOPPED, f"no summary.json in {replay.where} after {calls} LLM calls: see its log"
        )
    if replay.status == "failed":
        error = replay.error or {}
        message = " ".join(str(error.get("message", "")).split())[:160]
        if error.get("type") == "ReplayMiss":
            return Row(game, mode, MISS, message)
        text = f"{error.get('kind')}: {error.get('type')}: {error.get('message')}"
        shipped_failure = run is not None and run.status == "failed" and entry is None
        if shipped_failure and " ".join(text.split()) == " ".join((run.error or "").split()):
            return Row(game, mode, SAME, "failed as shipped")
        return Row(game, mode, FAILED, f"{error.get('type')}: {message}")
    if entry is None:  # the shipped run failed; this one finished
        return Row(game, mode, DIFFERS, f"status: shipped failed ({run.error if run else '?'}), replay done")
    diffs = _differences(entry.to_dict(), replay)
    return Row(game, mode, DIFFERS, "; ".join(diffs)) if diffs else Row(game, mode, SAME)


def _differences(shipped: dict[str, Any], replay: Replay) -> list[str]:
    """Each field in which the replay differs from the shipped entry: "field shipped → replayed"."""
    got = replay.figures
    diffs = [
        f"{name} {_show(shipped.get(name))} → {_show(got.get(name))}"
        for name in FIGURES
        if shipped.get(name) != got.get(name)
    ]
    mine, theirs = shipped.get("verification") or {}, got.get("verification") or {}
    for name in VERIFICATION:
        if mine.get(name) != theirs.get(name):
            diffs.append(f"verification {name} {_show(mine.get(name))} → {_show(theirs.get(name))}")
    if mine.get("positions") != theirs.get("positions"):
        for side, verification in (("shipped", mine), ("replayed", theirs)):
            if TIME_CUT in str(verification.get("headline") or ""):
                diffs.append(f"the {side} verification was cut by its time budget (depends on machine speed)")
    if replay.code is None:
        diffs.append("harness: the replay wrote none")
    elif (line := first_difference(shipped["code"], replay.code)) is not None:
        diffs.append(f"harness code from line {line}")
    return diffs


def first_difference(shipped: str, replayed: str) -> int | None:
    """The first line (1-based, in ``replayed``) where the two harnesses differ, the header lines a replay
    rewrites apart (``VOLATILE_HEADER``); None if they are equal."""
    kept = [
        (n, line) for n, line in enumerate(replayed.splitlines(), 1) if not line.startswith(VOLATILE_HEADER)
    ]
    theirs = [line for line in shipped.splitlines() if not line.startswith(VOLATILE_HEADER)]
    for (n, line), other in zip(kept, theirs, strict=False):
        if line != other:
            return n
    if len(kept) == len(theirs):
        return None
    return kept[len(theirs)][0] if len(kept) > len(theirs) else len(replayed.splitlines()) + 1


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


__all__ = ["FIGURES", "VERIFICATION", "Replay", "Row", "check", "first_difference", "read_replays"]
