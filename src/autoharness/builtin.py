"""The built-in library: harnesses and learning transcripts shipped with autoharness, under the user's own.

A user who installs autoharness can evaluate a game's harness without learning it first, and replay how it
was learned, without any model. The shipped data is written only by ``scripts/ship_library.py``
(``autoharness.ship``) from suite directories, never by hand::

    data/builtin/library.json.xz              an ``autoharness-library`` bundle (version 1): the shipped
                                              harnesses as library entries, plus "runs" (per game and mode:
                                              its transcript, its learning config, the harness it started
                                              from) and "not_shipped" (games of those suites left out, why)
    data/builtin/transcripts/GAME.MODE.jsonl.xz   each learning run's LLM replies (``llm.transcript``)
    data/transcripts/GAME-MODE.jsonl          the transcripts recorded by hand before the campaign

``$AUTOHARNESS_BUILTIN_DIR`` reads another ``builtin`` directory instead (a newer campaign, or a test's).

Lookups (``LayeredLibrary``) go to the user's library (``autoharness.library``) first; a built-in entry is
used only where the user has none at least as good (``LibraryEntry.rank``). The suite seeds variants from
the user's library only: seeding from the built-in one would reuse the shipped harness of every game and
learn nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ._schema import checked
from .envs.registry import path_name
from .errors import ConfigError
from .library import Library, LibraryEntry, read_bundle

BUILTIN_ENV = "AUTOHARNESS_BUILTIN_DIR"
BUNDLE_FILE = "library.json.xz"
TRANSCRIPTS = "transcripts"
USER, BUILTIN = "user", "built-in"
"""The two origins of a harness found by ``LayeredLibrary``."""


def data_dir() -> Path:
    """The package's data directory (paper tables, hand-recorded transcripts, the built-in layer)."""
    return Path(str(resources.files("autoharness").joinpath("data")))


def builtin_dir() -> Path:
    """Where the built-in layer is read from: ``$AUTOHARNESS_BUILTIN_DIR``, else the package's data."""
    if env := os.environ.get(BUILTIN_ENV):
        return Path(env).expanduser()
    return data_dir() / "builtin"


def transcript_name(game: str, mode: str) -> str:
    """A shipped transcript's file name (game ids such as ``openspiel:go(board_size=9)`` made file-safe)."""
    return f"{path_name(game)}.{mode}.jsonl.xz"


@dataclass(frozen=True, slots=True)
class ShippedRun:
    """How the campaign got one game's harness in one mode: what ``autoharness learn GAME`` (no model) and
    ``autoharness suite`` (no model) need to replay it exactly."""

    game: str
    mode: str
    status: str  # the suite's: "done" (a harness is shipped) or "failed" (only its transcript is)
    transcript: Path | None  # None: no LLM call was made (reused unchanged, or failed before any call)
    config: dict[str, Any] | None  # the learning run's stored ``LearnConfig``
    seed_game: str | None  # the family game whose harness it started from (None: from nothing)
    seed_code: str | None  # that harness, as the run received it
    seed_model: str | None
    reused: bool  # the family harness reached the target here unchanged: no learning run at all
    suite: str  # the suite directory it came from (its name)
    error: str | None = None  # a failed game's error, as the suite recorded it
    refine_on_verify: int = 0  # the suite's rounds of refinement on verification counterexamples
    verify_repairs: int = 0  # how many of them this game's run made (after its search)

    def seed_entry(self) -> LibraryEntry | None:
        """The family harness the run started from, as the suite's scheduler hands it to a game."""
        if self.seed_game is None or self.seed_code is None:
            return None
        return LibraryEntry(
            game=self.seed_game, mode=self.mode, code=self.seed_code, legal_rate=0.0, model=self.seed_model
        )


_RUN_FIELDS = {
    "game": "str",
    "mode": "str",
    "status": "str",
    "transcript": "str?",
    "config": "dict?",
    "seed_game": "str?",
    "seed_code": "str?",
    "seed_model": "str?",
    "reused": "bool",
    "suite": "str",
    "error": "str?",
    "refine_on_verify": "int?",
    "verify_repairs": "int?",
}


_COUNTS = ("refine_on_verify", "verify_repairs")


class BuiltinLibrary:
    """The shipped layer (read-only), read once from ``root`` (default ``builtin_dir()``)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else builtin_dir()
        self._loaded: tuple[dict[str, Any], dict[tuple[str, str], LibraryEntry]] | None = None
        self._runs: dict[tuple[str, str], ShippedRun] = {}

    @property
    def bundle(self) -> Path:
        return self.root / BUNDLE_FILE

    def _load(self) -> tuple[dict[str, Any], dict[tuple[str, str], LibraryEntry]]:
        if self._loaded is None:
            if not self.bundle.is_file():  # nothing shipped (yet): an empty layer
                self._loaded = ({}, {})
                return self._loaded
            meta, entries = read_bundle(self.bundle)
            runs = meta.get("runs", [])
            if not isinstance(runs, list):
                raise ConfigError(f"{self.bundle}: 'runs' must be a list")
            for i, raw in enumerate(runs):
                where = f"{self.bundle}: runs[{i}]"
                run = {k: v for k, v in checked(raw, _RUN_FIELDS, where).items() if k in _RUN_FIELDS}
                run = {k: v for k, v in run.items() if v is not None or k not in _COUNTS}  # null: 0
                name = run["transcript"]
                if name is not None and (Path(name).name != name or name.startswith(".")):
                    raise ConfigError(f"{where}: transcript {name!r} is not a file name")
                transcript = self.root / TRANSCRIPTS / name if name else None
                self._runs[(run["game"], run["mode"])] = ShippedRun(**{**run, "transcript": transcript})
            self._loaded = (meta, {(e.game, e.mode): e for e in entries})
        return self._loaded

    def entries(self, game: str | None = None, mode: str | None = None) -> list[LibraryEntry]:
        found = [
            e
            for e in self._load()[1].values()
            if (game is None or e.game == game) and (mode is None or e.mode == mode)
        ]
        return sorted(found, key=lambda e: (e.family, e.game, e.mode))

    def get(self, game: str, mode: str) -> LibraryEntry | None:
        return self._load()[1].get((game, mode))

    def run(self, game: str, mode: str) -> ShippedRun | None:
        """How the shipped harness (or failure) of ``game`` in ``mode`` came about, if it was shipped."""
        self._load()
        return self._runs.get((game, mode))

    def runs(self, mode: str | None = None) -> list[ShippedRun]:
        """Every shipped run (in ``mode``), sorted by game: finished, reused and failed ones."""
        self._load()
        return sorted((r for r in self._runs.values() if mode in (None, r.mode)), key=lambda r: r.game)

    def learning_config(self, game: str, mode: str) -> dict[str, Any] | None:
        """The learning config a replay of ``game``'s shipped run must use: the run's own, or, for a harness
        reused unchanged (no learning run of its own), that of the family run it was reused from — the same
        suite's settings (training seeds, verification positions), which its H and verification were
        measured with. None: nothing recorded (the replay keeps the caller's config)."""
        run = self.run(game, mode)
        if run is None:
            return None
        if run.config is None and run.reused and run.seed_game is not None and run.seed_game != game:
            family = self.run(run.seed_game, mode)
            return family.config if family is not None else None
        return run.config

    @property
    def not_shipped(self) -> list[dict[str, Any]]:
        """Games of the shipped suites that have no harness here: ``{game, mode, status, reason}``."""
        left = self._load()[0].get("not_shipped", [])
        return left if isinstance(left, list) else []

    @property
    def suites(self) -> list[dict[str, Any]]:
        """The suites the layer was built from (name, mode, model, games)."""
        suites = self._load()[0].get("suites", [])
        return suites if isinstance(suites, list) else []


def shipped_transcript(game: str, mode: str) -> Path | None:
    """The recorded learning run of ``game`` in ``mode`` that ships with autoharness: the campaign's
    (the run that produced the built-in harness) where there is one, else a hand-recorded one."""
    run = BuiltinLibrary().run(game, mode)
    if run is not None and run.transcript is not None:
        return run.transcript
    path = data_dir() / "transcripts" / f"{game}-{mode}.jsonl"
    return path if path.is_file() else None


def replaying_shipped(llm: str | None) -> bool:
    """Whether a learn or suite with this ``--llm`` answers from the shipped transcripts (no model named and
    no ``$OPENAI_API_KEY``: ``learn.command.resolve_llm``)."""
    return not llm and not os.environ.get("OPENAI_API_KEY")


@dataclass(frozen=True, slots=True)
class Found:
    """A harness a lookup chose, with the layer it came from."""

    entry: LibraryEntry
    origin: str  # USER or BUILTIN
    shadowed: LibraryEntry | None = None  # the other layer's entry for the same game and mode, which lost

    def describe(self) -> str:
        """One line: which harness is used and how far it can be trusted."""
        e = self.entry
        h = f"H {e.h:.3f}" if e.h is not None else "H -"
        iterations = "-" if e.iterations is None else str(e.iterations)
        return (
            f"{self.origin} library harness of {e.game} ({e.mode} mode): legal rate {e.legal_rate:.3f}, {h}, "
            f"{iterations} iterations, {e.llm_calls} LLM calls, {verification_text(e.verification)}; "
            f"learned by {e.model or 'unknown'}"
        )


def verification_text(verification: dict[str, Any] | None, asked: int | None = None) -> str:
    """What verification said of a harness: positions and disagreements, or "not verified"; beside the count,
    why it is short of the ``asked`` positions (``verify.shortfall``: a wall-time cut told apart from a stop
    by a count)."""
    from .verify import shortfall

    if not verification:
        return "not verified"
    positions = verification.get("positions")
    if not positions:
        return "not verified" + (f" ({verification['headline']})" if verification.get("headline") else "")
    dead = verification.get("dead_positions")
    dead_text = f", {dead} dead positions apart" if dead else ""
    notes = shortfall(verification, asked)
    short = f" ({'; '.join(notes)})" if notes else ""
    if verification.get("passed"):
        return f"verified on {positions} positions, 0 disagreements{dead_text}{short}"
    return (
        f"FAILED verification: {verification.get('disagreements')} disagreements "
        f"({verification.get('false_accepts')} false accepts) in {positions} positions{dead_text}{short}"
    )


class LayeredLibrary:
    """The user's library over the built-in one: the user's entry wins when it ranks at least as well."""

    def __init__(self, user: Library, builtin: BuiltinLibrary | None = None) -> None:
        self.user = user
        self.builtin = builtin if builtin is not None else BuiltinLibrary()

    def get(self, game: str, mode: str) -> Found | None:
        return _pick(self.user.get(game, mode), self.builtin.get(game, mode))

    def entries(self, mode: str | None = None) -> list[Found]:
        """One per game and mode found in either layer, sorted by family, game, mode."""
        mine = {(e.game, e.mode): e for e in self.user.entries(mode=mode)}
        shipped = {(e.game, e.mode): e for e in self.builtin.entries(mode=mode)}
        found = [_pick(mine.get(key), shipped.get(key)) for key in {**shipped, **mine}]
        chosen = [f for f in found if f is not None]
        return sorted(chosen, key=lambda f: (f.entry.family, f.entry.game, f.entry.mode))

    def first(self, game: str, modes: tuple[str, ...]) -> Found | None:
        """The harness of ``game`` in the first of ``modes`` (in order of preference) either layer has."""
        for mode in modes:
            if (found := self.get(game, mode)) is not None:
                return found
        return None


def _pick(mine: LibraryEntry | None, shipped: LibraryEntry | None) -> Found | None:
    if mine is not None and (shipped is None or mine.rank() >= shipped.rank()):
        return Found(mine, USER, shipped)
    if shipped is not None:
        return Found(shipped, BUILTIN, mine)
    return None


__all__ = [
    "BUILTIN",
    "BUILTIN_ENV",
    "USER",
    "BuiltinLibrary",
    "Found",
    "LayeredLibrary",
    "ShippedRun",
    "builtin_dir",
    "data_dir",
    "replaying_shipped",
    "shipped_transcript",
    "transcript_name",
    "verification_text",
]
