"""``autoharness learn``: flags generated from ``LearnConfig``, LLM selection, a live progress line.

Flags default to ``argparse.SUPPRESS`` so the handler knows which ones the user typed: a new run fills the
rest from ``LearnConfig``; ``--resume`` starts from the run's stored config and applies only typed flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import shlex
import time
import types
from contextlib import closing
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from ..errors import ConfigError, LLMAuthError, LLMConnectionError, RunStoreError, SandboxError
from ..flags import number, positive_float
from ..llm.openai_client import DEFAULT_TIMEOUT
from ..llm.transcript import read_transcript
from ..search import SCHEDULERS
from .config import MODES, LearnConfig

CHOICES = {"mode": MODES, "scheduler": SCHEDULERS}
DEFAULT_MODEL = "gpt-4o-mini"  # with $OPENAI_API_KEY and no --llm
REPLAY_BANNER = "replaying a recorded transcript, not calling any model"


def _flag_type(hint: Any) -> Any:
    if get_origin(hint) in (Union, types.UnionType):
        hint = next(a for a in get_args(hint) if a is not type(None))
    return hint


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The learn subcommand's flags; one per ``LearnConfig`` field, defaults shown from the dataclass."""
    p.add_argument("game", help="game id, e.g. TicTacToe-v0 (see `autoharness games`)")
    p.add_argument(
        "--llm", help="model name, or replay:FILE / manual (default: $OPENAI_API_KEY's gpt-4o-mini)"
    )
    p.add_argument("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL or OpenAI)")
    p.add_argument("--out", type=Path, help="run directory (default: a new runs/GAME-MODE-sSEED[-N])")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    p.add_argument(
        "--refine-on-verify",
        action="store_true",
        help="with --resume: one more refinement whose feedback is the counterexamples verification found",
    )
    add_cache_arguments(p)
    add_llm_timeout_argument(p)
    hints = get_type_hints(LearnConfig)
    for f in dataclasses.fields(LearnConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = _flag_type(hints[f.name])
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]
        help_text = f"{f.metadata.get('help', '')} (default: {default})"
        if kind is bool:
            p.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
            )
        elif f.name == "mode":
            p.add_argument(flag, choices=MODES, default=argparse.SUPPRESS, help=help_text)
        else:
            kind = number(kind) if kind in (int, float) else kind  # NaN / inf: one line at parse time
            p.add_argument(flag, type=kind, default=argparse.SUPPRESS, metavar=f.name.upper(), help=help_text)


seconds = positive_float
"""An argparse type: a positive, finite number of seconds (``autoharness.flags``)."""


def add_llm_timeout_argument(p: argparse.ArgumentParser) -> None:
    """``--llm-timeout SECONDS``: the whole-call deadline of every LLM request (learn, eval, play, suite)."""
    p.add_argument(
        "--llm-timeout",
        type=seconds,
        metavar="SECONDS",
        help="deadline for each LLM request as a whole, however slowly the server sends; a request "
        f"that passes it is retried like other timeouts (default: {DEFAULT_TIMEOUT:g})",
    )


def add_cache_arguments(p: argparse.ArgumentParser) -> None:
    """``--cache PATH`` / ``--no-cache``: the shared LLM cache (learn, eval, play and suite all take them)."""
    p.add_argument(
        "--cache",
        metavar="PATH",
        help="shared LLM reply cache: an identical request is never paid twice, across runs "
        "(default: $XDG_CACHE_HOME/autoharness/llm_cache.sqlite)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="no shared cache (a learn run still records its own calls in its directory, for resume/replay)",
    )


def _given(args: argparse.Namespace) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(LearnConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


def bundled_transcript(game: str, mode: str) -> Path | None:
    """The transcript shipped for ``game`` in ``mode``, if one was recorded (``builtin.shipped_transcript``:
    the campaign's run where there is one, else a hand-recorded one)."""
    from ..builtin import shipped_transcript

    return shipped_transcript(game, mode)


def resolve_llm(llm: str | None, game: str, mode: str) -> tuple[str, bool]:
    """(client spec, is the bundled replay): ``--llm``, else $OPENAI_API_KEY's default model, else the
    transcript bundled for ``game`` in ``mode``; a clear error when none of them exists."""
    if llm:
        return llm, False
    if os.environ.get("OPENAI_API_KEY"):
        return DEFAULT_MODEL, False
    bundled = bundled_transcript(game, mode)
    if bundled is None:
        from ..builtin import BuiltinLibrary

        why = f"no recorded transcript is bundled for {game} in {mode} mode"
        run = BuiltinLibrary().run(game, mode)
        if run is not None and run.reused:
            why = (
                f"{game}'s shipped {mode} harness is {run.seed_game}'s, reused unchanged (no learning run to "
                f"replay; see autoharness library show {game})"
            )
        elif run is not None:
            why = f"{game}'s recorded {mode} run made no LLM call ({run.status}: {run.error or 'no reply'})"
        raise ConfigError(
            f"no LLM configured (pass --llm MODEL, set OPENAI_API_KEY, or --llm manual) and {why}"
        )
    return f"replay:{bundled}", True


def shipped_start(game: str, mode: str, transcript: str) -> tuple[dict[str, Any] | None, str | None, int]:
    """For a replay of the shipped campaign run at ``transcript``: the run's recorded learning config, the
    harness it started from (a family's) and its rounds of refinement on verification counterexamples
    (``suite --refine-on-verify``), without which the replay would ask other prompts."""
    from ..builtin import BuiltinLibrary

    run = BuiltinLibrary().run(game, mode)
    if run is None or run.transcript is None or str(run.transcript) != transcript:
        return None, None, 0
    return run.config, run.seed_code, run.verify_repairs


def _fresh_run_dir(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3``, ... : without ``--out`` a new run never collides with an old one
    (an explicit ``--out`` that holds a run is refused unless ``--resume``)."""
    candidates = (base if n == 1 else base.with_name(f"{base.name}-{n}") for n in itertools.count(1))
    return next(p for p in candidates if not p.exists())


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..envs import get_spec
    from ..envs.registry import path_name
    from ..llm import make_client
    from ..llm.cache import chosen_cache
    from .loop import LLM_CACHE, learn, refine_until_verified
    from .store import RunStore

    console = Console(stderr=True)
    get_spec(args.game)
    shared_cache = chosen_cache(args.cache, args.no_cache)
    given = _given(args)
    if args.refine_on_verify and not args.resume:
        raise ConfigError(
            "--refine-on-verify only applies with --resume (to a run whose harness was verified)"
        )
    if args.resume:
        if args.out is None:
            raise ConfigError("--resume needs --out DIR (the run directory to continue)")
        try:
            store = RunStore(args.out, create=False)
            try:
                stored = store.meta().get("config")
            finally:
                store.close()
        except RunStoreError as exc:
            raise ConfigError(str(exc)) from exc
        if stored is None:  # killed before its first write: there is nothing to continue
            raise ConfigError(f"{args.out} holds no started run to resume; remove it and start again")
        config = dataclasses.replace(LearnConfig.from_dict(stored), **given)
    else:
        config = LearnConfig(**given)
    out = args.out or _fresh_run_dir(Path("runs") / f"{path_name(args.game)}-{config.mode}-s{config.seed}")
    if Path(out).exists() and not Path(out).is_dir():
        raise ConfigError(f"--out {out} is a file, not a run directory")
    spec, bundled = resolve_llm(args.llm, args.game, config.mode)
    initial_code = None
    repairs = 0
    if bundled:
        path = spec.removeprefix("replay:")
        recorded, initial_code, repairs = shipped_start(args.game, config.mode, path)
        if recorded is not None and not args.resume:  # as the campaign ran it; typed flags still apply
            config = dataclasses.replace(LearnConfig.from_dict(recorded), **given)
        origins = sorted({record.provenance for record in read_transcript(path)})
        console.print(f"[bold yellow]No LLM configured: {REPLAY_BANNER}[/] ({path})", soft_wrap=True)
        console.print(f"[yellow]its replies were {'; '.join(origins)}[/]", soft_wrap=True)
        if initial_code is not None:
            console.print("[yellow]starting, as the recorded run did, from its family's harness[/]")
    try:
        client = make_client(
            spec,
            base_url=args.base_url,
            cache_path=shared_cache,
            record_path=Path(out) / LLM_CACHE,
            timeout=args.llm_timeout,
        )
        # The manual backend talks to the person on the terminal: a redrawn line would overwrite it.
        with closing(client), _Display(console, live=not spec.startswith("manual")) as display:
            result = learn(
                args.game,
                config,
                client,
                out,
                progress=display.update,
                resume=args.resume,
                refine_on_verify=args.refine_on_verify,
                initial_code=initial_code,
            )
            if not args.resume:  # the recorded run's repairs, as the suite made them
                result, _ = refine_until_verified(
                    args.game, config, client, out, result, repairs, progress=display.update
                )
    except (LLMConnectionError, LLMAuthError) as exc:
        raise ConfigError(f"{exc} ({_continue(args, out)})") from exc
    except SandboxError as exc:  # the machine's failure, not the harness's: nothing was scored for it
        raise SandboxError(f"{exc} ({_continue(args, out)})") from exc
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (the CLI turns it into one): say how to go on
        exc.add_note(_continue(args, out))
        raise
    from_cache = f" ({result.cached_calls} answered from the cache)" if result.cached_calls else ""
    print(
        f"{result.game} ({result.mode}): best node {result.best_node}, legal rate {result.legal_rate:.3f} "
        f"(H {result.h:.3f}) after {result.iterations} iterations, {result.llm_calls} LLM calls{from_cache}, "
        f"{result.tokens:,} tokens, ${result.cost_usd:.4f} — stopped: {result.stop_reason}"
    )
    if result.harness_path is not None:
        print(f"harness: {result.harness_path}")
    print(f"summary: {result.summary_path}")
    verification = result.verification
    if verification is not None:  # the last line: whether the harness survived held-out positions
        if not verification["passed"] and verification["counterexamples"]:
            print(
                f"counterexamples: autoharness verify {result.game} --harness {out}; feed them back with "
                f"autoharness learn {result.game} --out {out} --resume --refine-on-verify"
            )
        if verification["passed"] or (not verification["positions"] and not verification["load_failure"]):
            print(verification["headline"])  # passed, or "not verified: <why>"
        else:
            print("HARNESS FAILED VERIFICATION: " + verification["headline"])
    return 0


def _continue(args: argparse.Namespace, out: Path) -> str:
    """How to go on with the run in ``out``: the exact resume command (the LLM and cache flags the user
    typed; the config is stored with the run), or a fresh start when nothing was stored yet."""
    from .store import RunStore

    if not (Path(out) / RunStore.FILE).exists():
        return f"nothing was stored in {out} yet: run the same command again"
    command = ["autoharness", "learn", args.game, "--out", str(out), "--resume"]
    for flag in ("llm", "base_url", "cache"):
        if getattr(args, flag, None):
            command += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
    if getattr(args, "no_cache", False):
        command.append("--no-cache")
    return f"the run in {out} is kept: continue it with: {shlex.join(command)}"


LOG_EVERY = 30.0
"""Seconds between two progress lines of a running evaluation when the display cannot redraw (logs)."""


class _Display:
    """Live status (iteration, best H, LLM calls, tokens, cost; inside an evaluation: games finished, steps,
    elapsed, slowest call): one redrawn line on a terminal; otherwise (logs, the manual backend's
    conversation) one line per new node and one every ``LOG_EVERY`` s inside a long evaluation."""

    def __init__(self, console: Any, live: bool) -> None:
        from rich.live import Live

        self._console = console
        self._redraw = live and console.is_terminal
        self._live = Live("starting…", console=console, refresh_per_second=4, transient=True)
        self._logged = time.monotonic()

    def __enter__(self) -> _Display:
        if self._redraw:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._redraw:
            self._live.__exit__(*exc)  # type: ignore[arg-type]

    def update(self, p: Any) -> None:
        last = f" · last H {p.last_h:.3f}" if p.last_h is not None else ""
        line = (
            f"iteration {p.iteration}/{p.max_iterations} · best H {p.best_h:.3f}{last} · "
            f"LLM calls {p.llm_calls} · tokens {p.tokens:,} · ${p.cost_usd:.4f} · {p.note}"
        )
        if self._redraw:
            self._live.update(line)
        elif p.phase == "node" or (p.phase == "evaluate" and time.monotonic() - self._logged >= LOG_EVERY):
            self._logged = time.monotonic()
            self._console.print(line, markup=False, highlight=False, soft_wrap=True)


__all__ = [
    "DEFAULT_MODEL",
    "REPLAY_BANNER",
    "add_arguments",
    "add_cache_arguments",
    "add_llm_timeout_argument",
    "bundled_transcript",
    "resolve_llm",
    "run",
]
