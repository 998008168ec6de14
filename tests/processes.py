"""Process-tree helpers shared by tests that check nothing is left running."""

from __future__ import annotations

import contextlib
import os


def children(pid: int) -> list[int]:
    """The direct children of ``pid``, over all its threads (from /proc; [] once it is gone)."""
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(k) for k in f.read().split()]
    return kids
