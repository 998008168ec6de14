"""Writing result files so that a reader (or a run killed mid-write) never sees half of one."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Write a temp file in the same directory, fsync, rename: readers see the old file or the new one.

    The temp file is created with mode 0666 minus the umask (0644 usually), like ``open(path, "w")``:
    results (harness.py, summary.json, eval and suite files) are for teammates to read, and
    ``tempfile.mkstemp``'s fixed 0600 would survive the rename."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


__all__ = ["atomic_write"]
