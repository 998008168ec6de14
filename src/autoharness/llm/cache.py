"""A SQLite cache of sampled replies, so an identical request is never paid twice.

Keyed by ``request_key`` (model, messages, parameters, sample index). WAL mode with a busy timeout lets
several processes read and write one file at once; every insert is its own committed transaction with
``synchronous=FULL``, so a reply survives a crash of the process the moment ``put`` returns.

The command line keeps one such file per user (``default_cache_path``), shared by learn, eval and suite,
so two identical runs pay once; a learn run also records its own calls in its directory (replay, resume).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from ..errors import ConfigError, RunStoreError
from .base import Usage
from .transcript import TranscriptRecord, read_transcript, write_transcript

log = logging.getLogger("autoharness.llm")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    messages TEXT NOT NULL,
    params TEXT NOT NULL,
    sample_index INTEGER NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    provenance TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""
_COLUMNS = (
    "model, messages, params, sample_index, text, prompt_tokens, completion_tokens, provenance, created_at"
)


_SETUP_ATTEMPTS = 40


def default_cache_path() -> Path:
    """The per-user cache file: ``$XDG_CACHE_HOME/autoharness/llm_cache.sqlite`` (``~/.cache`` without it)."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home).expanduser() / "autoharness" / "llm_cache.sqlite"


def chosen_cache(path: str | Path | None, disabled: bool) -> Path | None:
    """The shared cache the ``--cache PATH`` / ``--no-cache`` flags select (None: no shared cache)."""
    if disabled and path is not None:
        raise ConfigError("--cache and --no-cache contradict each other; pass one")
    if disabled:
        return None
    return Path(path).expanduser() if path is not None else default_cache_path()


class ResponseCache:
    """Thread-safe handle on one cache file (one connection per handle, guarded by a lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=30.0, check_same_thread=False, isolation_level=None
            )
            self._setup()
        except (sqlite3.Error, OSError) as exc:
            raise RunStoreError(f"cannot use LLM cache {self.path}: {exc}") from exc

    def _setup(self) -> None:
        """Switch to WAL and create the table. Two processes creating the same file at once can get
        SQLITE_BUSY from the journal-mode switch without SQLite's busy handler being consulted, so that
        step is retried (bounded) rather than failing the run."""
        for attempt in range(_SETUP_ATTEMPTS):
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                self._conn.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == _SETUP_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def get(self, key: str) -> TranscriptRecord | None:
        """The stored reply, or None; a row that is not a sound record (e.g. negative token counts
        written by an older version) counts as a miss, so it can never lower a run's totals."""
        rows = self._query(f"SELECT {_COLUMNS} FROM replies WHERE key = ?", (key,))
        return _sound(rows[0], self.path) if rows else None

    def put(self, record: TranscriptRecord) -> None:
        """Store a reply; the first reply stored under a key wins (a concurrent duplicate is dropped)."""
        self._query(
            f"INSERT OR IGNORE INTO replies (key, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.key,
                record.model,
                json.dumps(record.messages, ensure_ascii=False),
                json.dumps(record.params, sort_keys=True),
                record.sample_index,
                record.text,
                record.usage.prompt_tokens,
                record.usage.completion_tokens,
                record.provenance,
                record.created_at,
            ),
        )

    def records(self) -> Iterator[TranscriptRecord]:
        """Every stored reply, oldest first."""
        rows = self._query(f"SELECT {_COLUMNS} FROM replies ORDER BY rowid", ())
        return (record for row in rows if (record := _sound(row, self.path)) is not None)

    def __len__(self) -> int:
        return int(str(self._query("SELECT COUNT(*) FROM replies", ())[0][0]))

    def _query(self, sql: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise RunStoreError(f"LLM cache {self.path} unusable: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _sound(row: tuple[object, ...], path: Path) -> TranscriptRecord | None:
    try:
        return _record(row)
    except (ValueError, TypeError, RecursionError) as exc:
        log.warning("LLM cache %s: skipping an unusable stored reply (%s)", path, exc)
        return None


def _record(row: tuple[object, ...]) -> TranscriptRecord:
    model, messages, params, sample_index, text, prompt_tokens, completion_tokens, provenance, created = row
    return TranscriptRecord(
        model=str(model),
        messages=json.loads(str(messages)),
        params=json.loads(str(params)),
        sample_index=int(str(sample_index)),
        text=str(text),
        usage=Usage(int(str(prompt_tokens)), int(str(completion_tokens))),
        provenance=str(provenance),
        created_at=str(created),
    )


def export_transcript(cache_path: str | Path, out_path: str | Path) -> int:
    """Write every reply in a cache file as a JSONL transcript (what ``ReplayClient`` reads)."""
    if not Path(cache_path).is_file():
        raise RunStoreError(f"no LLM cache at {cache_path}")
    with ResponseCache(cache_path) as cache:
        return write_transcript(cache.records(), out_path)


def import_transcript(transcript_path: str | Path, cache: ResponseCache) -> int:
    """Load a JSONL transcript into a cache (existing keys are kept); returns the records read."""
    records = read_transcript(transcript_path)
    for record in records:
        cache.put(record)
    return len(records)


__all__ = ["ResponseCache", "chosen_cache", "default_cache_path", "export_transcript", "import_transcript"]
