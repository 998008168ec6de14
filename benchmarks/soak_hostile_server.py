"""Soak every mode of the misbehaving OpenAI-compatible server (tests/llm/hostile_openai.py), in turn:
learn TicTacToe against it, then resume the run against a good server.

    .venv/bin/python benchmarks/soak_hostile_server.py [--rounds 3] [--modes trickle,no-choices]

Prints one line per run (how the first run ended, the resumed run, LLM calls, seconds, the process's
peak RSS); exit status 1 on any breach: a traceback or any exception but a one-line autoharness error,
a budget passed, negative or infinite totals, a resumed run that did not finish, or peak RSS over
--max-rss-mb.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests package: the hostile server and the soak driver

from tests.llm.hostile_openai import ALL_MODES  # noqa: E402
from tests.llm.soak import soak_mode  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--modes", help="comma-separated (default: all)")
    parser.add_argument("--max-rss-mb", type=float, default=1500.0)
    args = parser.parse_args()
    modes = args.modes.split(",") if args.modes else ALL_MODES
    breaches = 0
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(1, args.rounds + 1):
            for mode in modes:
                try:
                    r = soak_mode(mode, Path(tmp) / f"round{round_}")
                except Exception as exc:  # a breach: report it and go on with the other modes
                    breaches += 1
                    print(f"{round_} {mode:<22} BREACH {type(exc).__name__}: {exc}", flush=True)
                    continue
                over = r.peak_rss_mb > args.max_rss_mb
                breaches += over
                print(
                    f"{round_} {mode:<22} {r.first[:70]:<72} | {r.resumed[:30]:<30} {r.calls} calls "
                    f"{r.seconds:6.1f}s rss {r.peak_rss_mb:6.0f} MB{' OVER' if over else ''}",
                    flush=True,
                )
    print(f"{breaches} breach(es) in {args.rounds} round(s) of {len(modes)} modes")
    return 1 if breaches else 0


if __name__ == "__main__":
    raise SystemExit(main())
