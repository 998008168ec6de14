"""Reading a learning run's store (``run.sqlite``) as written, straight from SQLite rather than through the
product's ``learn.store``: what tests of learning, resuming and sandbox failures check (test code only)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def nodes(run_dir: Path, columns: str) -> list[tuple]:
    """``columns`` (SQL, e.g. ``"id, kind, h"``) of every node of the run in ``run_dir``, in id order."""
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return db.execute(f"SELECT {columns} FROM nodes ORDER BY id").fetchall()
    finally:
        db.close()
