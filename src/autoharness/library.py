"""The harness library: the best learned harness per game and mode, grouped by family.

A variant (``Chess-v0-long``) learns faster from its family's harness (``Chess-v0``) than from nothing —
the paper's future work. The suite looks up :meth:`Library.best_for` before learning a game and stores what
it learned afterwards; ``autoharness library list|show|export|import`` manages it by hand.

Layout (plain files, readable without autoharness)::

    ROOT/<family>/<game>.<mode>.json    the entry: metadata + code (written atomically: the record of truth)
    ROOT/<family>/<game>.<mode>.py      the same code, for reading and diffing

(family and game as file names: ``envs.registry.path_name``, so ``openspiel:go(board_size=9)`` is stored
as ``openspiel_go/openspiel_go_board_size_9_.verifier.json``; the entry holds the real id.)

ROOT is ``--library DIR``, else ``$AUTOHARNESS_LIBRARY``, else ``$XDG_DATA_HOME/autoharness/library``
(``~/.local/share/autoharness/library``). An entry is only replaced by a better one (one that passed
``autoharness verify`` beats any that did not; then higher legal rate, then higher H), so re-running a suite
or importing an older bundle never loses a harness.
Export/import use one JSON bundle: ``{"format": "autoharness-library", "version": 1, "entries": [...]}``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import lzma
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ._files import atomic_write
from .envs import get_spec
from .envs.registry import path_name
from .errors import ConfigError
from .learn.config import MODES
from .sandbox.contract import MAX_SOURCE_CHARS

BUNDLE_FORMAT = "autoharness-library"
BUNDLE_VERSION = 1
ENV_VAR = "AUTOHARNESS_LIBRARY"


def default_root() -> Path:
    """Where the library lives when no ``--library`` is given."""
    if env := os.environ.get(ENV_VAR):
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "autoharness" / "library"


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """One stored harness and where it came from."""

    game: str
    mode: str
    code: str
    legal_rate: float
    h: float | None = None  # the learner's heuristic value of this harness (policy mode: includes reward)
    model: str | None = None
    llm_calls: int = 0  # calls spent learning it (0 when it was reused unchanged from its family)
    iterations: int | None = None  # code versions its learning run made (0: reused; None: not recorded)
    source: str = ""  # run directory, suite, or "import:<file>"
    seeded_from: str | None = None  # the library game it started from, if any
    created: str = ""  # ISO-8601 UTC
    verification: dict[str, Any] | None = None  # ``verify.brief`` of its verification; None: never verified

    @property
    def family(self) -> str:
        return get_spec(self.game).family

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()

    @property
    def verified(self) -> bool:
        """Whether it passed verification on held-out positions (``autoharness verify``)."""
        return bool(self.verification and self.verification.get("passed"))

    def rank(self) -> tuple[bool, float, float]:
        """A verified harness first, then legal rate, then H."""
        return (self.verified, self.legal_rate, self.h if self.h is not None else self.legal_rate)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "family": self.family, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str) -> LibraryEntry:
        """Validate one stored or imported entry; anything off is a one-line ``ConfigError``."""
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: an entry must be a JSON object")
        names = {f.name for f in fields(cls)}
        missing = sorted({"game", "mode", "code", "legal_rate"} - set(data))
        if missing:
            raise ConfigError(f"{origin}: entry lacks {', '.join(missing)}")
        game, mode, code = data["game"], data["mode"], data["code"]
        if not isinstance(game, str):
            raise ConfigError(f"{origin}: game must be a string")
        get_spec(game)  # UnknownGame (a UsageError) names close ids
        if mode not in MODES:
            raise ConfigError(f"{origin}: mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not isinstance(code, str) or not code.strip():
            raise ConfigError(f"{origin}: code must be non-empty text")
        if len(code) > MAX_SOURCE_CHARS:
            raise ConfigError(f"{origin}: code is over {MAX_SOURCE_CHARS} characters")
        for name in ("legal_rate", "h"):  # h ranks entries: a string or 1e300 would break or freeze them
            value = data.get(name)
            if (value is not None or name == "legal_rate") and not _unit_number(value):
                raise ConfigError(f"{origin}: {name} must be a number in [0, 1], not {value!r}")
        calls = data.get("llm_calls", 0)
        if type(calls) is not int or calls < 0:
            raise ConfigError(f"{origin}: llm_calls must be a whole number ≥ 0, not {calls!r}")
        iterations = data.get("iterations")
        if iterations is not None and (type(iterations) is not int or iterations < 0):
            raise ConfigError(f"{origin}: iterations must be a whole number ≥ 0 or null, not {iterations!r}")
        for name in ("model", "seeded_from"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ConfigError(f"{origin}: {name} must be text or null")
        for name in ("source", "created"):
            if not isinstance(data.get(name, ""), str):
                raise ConfigError(f"{origin}: {name} must be text")
        verification = data.get("verification")
        if verification is not None and not (
            isinstance(verification, dict) and isinstance(verification.get("passed"), bool)
        ):
            raise ConfigError(f"{origin}: verification must be an object with a boolean 'passed'")
        sha = data.get("sha256")
        if sha is not None and sha != hashlib.sha256(code.encode()).hexdigest():
            raise ConfigError(f"{origin}: code of {game} ({mode}) does not match its sha256")
        return cls(**{k: v for k, v in data.items() if k in names})


class Library:
    """The harness store at ``root`` (created on first write)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()

    def _path(self, game: str, mode: str, suffix: str) -> Path:
        return self.root / path_name(get_spec(game).family) / f"{path_name(game)}.{mode}{suffix}"

    def entries(self, game: str | None = None, mode: str | None = None) -> list[LibraryEntry]:
        """Stored entries, optionally for one game and/or mode, sorted by family, game, mode."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob("*/*.json")):
            entry = LibraryEntry.from_dict(_read_json(path), str(path))
            if (game is None or entry.game == game) and (mode is None or entry.mode == mode):
                found.append(entry)
        return sorted(found, key=lambda e: (e.family, e.game, e.mode))

    def get(self, game: str, mode: str) -> LibraryEntry | None:
        path = self._path(game, mode, ".json")
        return LibraryEntry.from_dict(_read_json(path), str(path)) if path.exists() else None

    def best_for(self, game: str, mode: str) -> LibraryEntry | None:
        """The harness to start ``game`` from: the best of its family in ``mode``.

        Ties go to the game itself, then the family's base game, then the first id alphabetically.
        """
        spec = get_spec(game)
        family_dir = self.root / path_name(spec.family)
        if not family_dir.is_dir():
            return None
        candidates = [
            LibraryEntry.from_dict(_read_json(p), str(p)) for p in sorted(family_dir.glob(f"*.{mode}.json"))
        ]
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda e: (tuple(-x for x in e.rank()), e.game != game, e.game != spec.family, e.game),
        )

    def put(self, entry: LibraryEntry) -> bool:
        """Store ``entry`` unless an entry at least as good is there; True when written."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked():
            current = self.get(entry.game, entry.mode)
            if current is not None and current.rank() >= entry.rank():
                return False
            json_path = self._path(entry.game, entry.mode, ".json")
            json_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self._path(entry.game, entry.mode, ".py"), entry.code)
            atomic_write(json_path, json.dumps(entry.to_dict(), indent=2) + "\n")
            return True

    def discard(self, game: str, mode: str, source: str) -> bool:
        """Remove the entry of ``game`` in ``mode`` if it came from ``source`` (a suite's game directory:
        ``suite --rerun`` drops what that suite stored, never an entry another run or an import made);
        True when removed."""
        if not self.root.is_dir():
            return False
        with self._locked():
            current = self.get(game, mode)
            if current is None or current.source != source:
                return False
            self._path(game, mode, ".json").unlink()
            self._path(game, mode, ".py").unlink(missing_ok=True)
            return True

    def export(self, path: Path, games: list[str] | None = None) -> int:
        """Write every entry (or those of ``games``) to one JSON bundle; returns how many."""
        if path.is_dir() or not path.parent.is_dir():
            where = "is a directory" if path.is_dir() else f"is in {path.parent}, which is not a directory"
            raise ConfigError(f"cannot export to {path}: it {where} (name a bundle file)")
        chosen = [e for e in self.entries() if games is None or e.game in games]
        bundle = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "entries": [e.to_dict() for e in chosen],
        }
        atomic_write(path, json.dumps(bundle, indent=2) + "\n")
        return len(chosen)

    def import_bundle(self, path: Path) -> tuple[int, int]:
        """Merge a bundle, validated first (all or nothing); returns (stored, existing kept)."""
        entries = read_bundle(path)[1]
        stored = sum(self.put(entry) for entry in entries)
        return stored, len(entries) - stored

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers (several suites may share one library)."""
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def read_bundle(path: Path) -> tuple[dict[str, Any], list[LibraryEntry]]:
    """A bundle file (``.xz``: compressed, as the built-in one is), validated as a whole: (the bundle's
    other top-level fields, its entries); anything off is a one-line ``ConfigError``."""
    if not path.is_file():
        raise ConfigError(f"no such bundle: {path}")
    bundle = _read_json(path)
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise ConfigError(f"{path}: not an autoharness library bundle")
    if bundle.get("version") != BUNDLE_VERSION:
        raise ConfigError(f"{path}: bundle version {bundle.get('version')!r}, expected {BUNDLE_VERSION}")
    raw = bundle.get("entries")
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: 'entries' must be a list")
    entries = [LibraryEntry.from_dict(item, f"{path} entry {i}") for i, item in enumerate(raw)]
    return {k: v for k, v in bundle.items() if k != "entries"}, entries


def _unit_number(value: object) -> bool:
    """A real number in [0, 1] (not a bool, not NaN)."""
    return type(value) in (int, float) and 0 <= value <= 1  # type: ignore[operator]


def _read_json(path: Path) -> Any:
    try:
        data = lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ConfigError(f"cannot read {path}: its JSON is nested too deeply") from None
    except (OSError, UnicodeDecodeError, lzma.LZMAError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "ENV_VAR",
    "Library",
    "LibraryEntry",
    "default_root",
    "read_bundle",
]
