"""One directory per learning run, with everything in a SQLite file (stdlib, one transaction per change).

Layout of a run directory::

    run.sqlite        meta (game, mode, config, model, prompt versions), nodes, llm_calls
    llm_cache.sqlite  the LLM layer's request cache: a resumed run never pays for a call twice
    harness.py        the best harness, standalone, with a header (written when the run stops)
    summary.json      game, mode, legal_rate, iterations, llm_calls, tokens, best_node, ...

A node (code version) and the LLM call that produced it are written in the same transaction as the
parent's refinement count, so a ``kill -9`` leaves the store either before or after an iteration, never
in between.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RunStoreError
from ..search import Node

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    id INTEGER PRIMARY KEY,
    parent INTEGER REFERENCES nodes(id),
    depth INTEGER NOT NULL,
    kind TEXT NOT NULL,            -- root | given | refine_both | refine_proposer (+ :bad_reply)
    code TEXT,                     -- NULL: the reply had no usable code (a failed child)
    h REAL NOT NULL,
    legal_rate REAL NOT NULL,
    refined INTEGER NOT NULL DEFAULT 0,
    evaluation TEXT NOT NULL,      -- JSON summary of the rollouts and probes
    feedback TEXT NOT NULL,        -- critic's text about this node (what its children are told)
    refine_kind TEXT,              -- how a child of this node is refined (both | proposer)
    seconds REAL NOT NULL,         -- wall time spent producing this node (LLM + evaluation)
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_calls (
    id INTEGER PRIMARY KEY,
    node_id INTEGER NOT NULL REFERENCES nodes(id),
    model TEXT NOT NULL,
    provenance TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    cached INTEGER NOT NULL,
    prompt TEXT NOT NULL           -- JSON list of chat messages sent
);
"""


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A stored node (code version) with its evaluation."""

    id: int
    parent: int | None
    depth: int
    kind: str
    code: str | None
    h: float
    legal_rate: float
    refined: int
    evaluation: dict[str, Any]
    feedback: str
    refine_kind: str | None
    seconds: float

    def as_search_node(self) -> Node:
        return Node(self.id, self.parent, self.h, self.refined, self.depth, refinable=self.code is not None)


@dataclass(frozen=True, slots=True)
class CallRow:
    """One LLM call that produced a node (costs are summed from these)."""

    model: str
    provenance: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cached: bool
    prompt: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class Totals:
    iterations: int
    llm_calls: int
    tokens: int
    cost_usd: float
    seconds: float
    cached_calls: int = 0  # of llm_calls, answered from a cache (nothing paid)


class RunStore:
    """The SQLite store of one run directory."""

    FILE = "run.sqlite"

    def __init__(self, run_dir: Path, *, create: bool) -> None:
        self.dir = Path(run_dir)
        path = self.dir / self.FILE
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise RunStoreError(f"no run to resume in {self.dir} (missing {self.FILE})")
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise RunStoreError(f"cannot use run store {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise RunStoreError(f"run store {self.dir}: {exc}") from exc

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A damaged store (a corrupt page, undecodable text) is a ``RunStoreError``, not a traceback."""
        try:
            yield
        except (sqlite3.Error, ValueError, TypeError) as exc:
            detail = textwrap.shorten(str(exc), 160)
            raise RunStoreError(f"run store {self.dir / self.FILE} is damaged: {detail}") from exc

    # --- meta ---------------------------------------------------------------------------------------
    def set_meta(self, **items: Any) -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(k, json.dumps(v, sort_keys=True)) for k, v in items.items()],
            )

    def meta(self) -> dict[str, Any]:
        with self._reading():
            return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}

    # --- nodes --------------------------------------------------------------------------------------
    def add_node(
        self,
        *,
        parent: int | None,
        kind: str,
        code: str | None,
        h: float,
        legal_rate: float,
        evaluation: dict[str, Any],
        feedback: str,
        refine_kind: str | None,
        seconds: float,
        call: CallRow | None,
    ) -> int:
        """Insert a node, its LLM call, and count one refinement of its parent — atomically."""
        with self._tx() as db:
            depth = 0
            if parent is not None:
                row = db.execute("SELECT depth FROM nodes WHERE id = ?", (parent,)).fetchone()
                if row is None:
                    raise RunStoreError(f"parent node {parent} does not exist")
                depth = row[0] + 1
                db.execute("UPDATE nodes SET refined = refined + 1 WHERE id = ?", (parent,))
            cur = db.execute(
                "INSERT INTO nodes(parent, depth, kind, code, h, legal_rate, evaluation, feedback,"
                " refine_kind, seconds, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    parent,
                    depth,
                    kind,
                    code,
                    h,
                    legal_rate,
                    json.dumps(evaluation, sort_keys=True),
                    feedback,
                    refine_kind,
                    seconds,
                    time.time(),
                ),
            )
            node_id = int(cur.lastrowid or 0)
            if call is not None:
                db.execute(
                    "INSERT INTO llm_calls(node_id, model, provenance, prompt_tokens, completion_tokens,"
                    " cost_usd, cached, prompt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        node_id,
                        call.model,
                        call.provenance,
                        call.prompt_tokens,
                        call.completion_tokens,
                        call.cost_usd,
                        int(call.cached),
                        json.dumps(call.prompt),
                    ),
                )
        return node_id

    def nodes(self) -> list[NodeRow]:
        with self._reading():
            rows = self._db.execute(
                "SELECT id, parent, depth, kind, code, h, legal_rate, refined, evaluation, feedback,"
                " refine_kind, seconds FROM nodes ORDER BY id"
            ).fetchall()
            return [NodeRow(*r[:8], json.loads(r[8]), *r[9:]) for r in rows]  # type: ignore[misc]

    def node(self, node_id: int) -> NodeRow:
        found = [n for n in self.nodes() if n.id == node_id]
        if not found:
            raise RunStoreError(f"no node {node_id} in {self.dir}")
        return found[0]

    def calls(self) -> list[CallRow]:
        with self._reading():
            rows = self._db.execute(
                "SELECT model, provenance, prompt_tokens, completion_tokens, cost_usd, cached, prompt"
                " FROM llm_calls ORDER BY id"
            ).fetchall()
            return [CallRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), json.loads(r[6])) for r in rows]

    def totals(self) -> Totals:
        with self._reading():
            n, secs = self._db.execute("SELECT COUNT(*), COALESCE(SUM(seconds), 0) FROM nodes").fetchone()
            calls, tokens, cost, cached = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0),"
                " COALESCE(SUM(cost_usd), 0), COALESCE(SUM(cached), 0) FROM llm_calls"
            ).fetchone()
        return Totals(
            iterations=n, llm_calls=calls, tokens=tokens, cost_usd=cost, seconds=secs, cached_calls=cached
        )


__all__ = ["CallRow", "NodeRow", "RunStore", "Totals"]
