"""The AutoHarness paper's published figures, bundled in ``data/paper/`` (see its ATTRIBUTION.md).

Reference columns for the registry, reports and suite tables; never expected outputs.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources


@cache
def paper_table(name: str) -> dict[str, dict[str, str]]:
    """A bundled paper table (``games145``, ``reward_1p``, ``legal_rate_1p``) by game id, in file order."""
    text = resources.files("autoharness.data.paper").joinpath(f"{name}.tsv").read_text(encoding="utf-8")
    return {row["game"]: row for row in csv.DictReader(io.StringIO(text), delimiter="\t")}


__all__ = ["paper_table"]
