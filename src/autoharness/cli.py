"""The ``autoharness`` command line.

Each subcommand is a thin shell over the Python API: parse flags, call one function, print. Errors a user
can cause are ``UsageError``: one line on stderr, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .errors import AutoharnessError, UsageError

Handler = Callable[[argparse.Namespace], int]


def _cmd_games(args: argparse.Namespace) -> int:
    raise UsageError("not implemented yet")


def _cmd_show(args: argparse.Namespace) -> int:
    raise UsageError("not implemented yet")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoharness",
        description="LLMs write and repair their own code harness until no illegal move gets through.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("games", help="list the 145 TextArena games")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_games)

    p = sub.add_parser("show", help="print the exact observation the agent gets at the start of a game")
    p.add_argument("game")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_cmd_show)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        print(f"autoharness: error: {exc}", file=sys.stderr)
        return 2
    except AutoharnessError as exc:
        print(f"autoharness: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("autoharness: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
