"""Build the built-in library layer (package data) from suite directories — the one command after a campaign.

    python -m uv run --frozen python scripts/ship_library.py SUITE_DIR [SUITE_DIR ...] [--out DIR]

Writes ``src/autoharness/data/builtin/`` (``--out`` another directory): ``library.json.xz`` (every finished
game's harness with its figures and verification, how each was learned, and what was left out) and
``transcripts/GAME.MODE.jsonl.xz`` (each learning run's replies, exported unchanged from its own record).
See ``autoharness.ship`` for what ships and what does not. Exit status 2 with one line on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoharness.errors import AutoharnessError
from autoharness.ship import ship

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src" / "autoharness" / "data" / "builtin"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("suites", nargs="+", type=Path, metavar="SUITE_DIR", help="suite directories")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    args = parser.parse_args(argv)
    try:
        summary = ship(args.suites, args.out)
    except AutoharnessError as exc:
        print(f"ship_library: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
