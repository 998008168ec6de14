"""Writing result files so that a reader (or a run killed mid-write) never sees half of one, and keeping a
second process out of a directory that one process is writing."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from .errors import ConfigError

LOCK_FILE = ".lock"


def atomic_write(path: Path, text: str | bytes) -> None:
    """Write a temp file in the same directory, fsync, rename: readers see the old file or the new one.

    The temp file is created with mode 0666 minus the umask (0644 usually), like ``open(path, "w")``:
    results (harness.py, summary.json, eval and suite files) are for teammates to read, and
    ``tempfile.mkstemp``'s fixed 0600 would survive the rename. The rename replaces a symlink at ``path``
    itself: nothing is ever written through a planted link."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(
            fd,
            "wb" if isinstance(text, bytes) else "w",
            encoding=None if isinstance(text, bytes) else "utf-8",
        ) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def dir_lock(directory: Path, what: str) -> Iterator[None]:
    """Hold ``directory`` (a run or a suite) for this process: a second process using it at the same time
    gets a one-line ``ConfigError`` at once instead of writing duplicate results beside the first.

    An advisory ``flock`` on ``directory/.lock``: the kernel drops it when the process dies (even kill -9),
    so a killed run can be resumed at once. A directory that does not exist yet is not locked (the caller
    creates it, or reports that it is missing).
    """
    if not directory.is_dir():
        yield
        return
    try:
        handle = open(directory / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 (held while we run)
    except OSError as exc:
        raise ConfigError(f"cannot lock {directory}: {exc.strerror}") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise ConfigError(
                f"{directory} is in use by another {what} (pid {holder}); wait for it to end"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


__all__ = ["LOCK_FILE", "atomic_write", "dir_lock"]
