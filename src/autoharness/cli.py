"""The ``autoharness`` command line.

Each subcommand is a thin shell over the Python API: parse flags, call one function, print. Errors a user
can cause are ``UsageError``: one line on stderr, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn

from .errors import AutoharnessError, SandboxError, Terminated, UsageError
from .flags import finite_float, finite_int, nonnegative_int, positive_float, positive_int
from .learn.command import add_arguments as learn_arguments
from .learn.command import add_cache_arguments, add_llm_timeout_argument

if TYPE_CHECKING:
    from pathlib import Path

    from .builtin import Found
    from .evaluate import AgentSpec
    from .llm.base import LLMClient

Handler = Callable[[argparse.Namespace], int]


def _cmd_games(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from .envs import list_games

    games = list_games(args.source)
    if args.json:
        print(json.dumps([dataclasses.asdict(g) for g in games], indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    names = {"textarena": "TextArena", "openspiel": "OpenSpiel", "user": "registered user"}
    counts = {s: sum(g.source == s for g in games) for s in names}
    in_eval = sum(g.eval_set for g in games)
    title = " + ".join(
        f"{n} {names[s]} games" + (f" ({in_eval} in the paper's evaluation set)" if s == "textarena" else "")
        for s, n in counts.items()
        if n
    )
    table = Table(title=title)
    for column in ("game", "source", "players", "eval set", "paper learning steps"):
        left = column in ("game", "source")
        table.add_column(column, justify="left" if left else "right", no_wrap=column == "game")
    for g in games:
        steps = "" if g.paper_learning_steps is None else str(g.paper_learning_steps)
        table.add_row(g.id, g.source, str(g.players), "yes" if g.eval_set else "", steps)
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from .envs import make

    print(make(args.game).reset(args.seed).observation)
    return 0


def _llm_factory(args: argparse.Namespace) -> Callable[[str], LLMClient]:
    """How eval/play build a client for ``MODEL`` of an agent spec: the LLM layer's one door (with the
    shared cache ``--cache``/``--no-cache`` select), imported only when an LLM agent is really built."""
    from .llm.cache import chosen_cache

    cache = chosen_cache(args.cache, args.no_cache)

    def build(model: str) -> LLMClient:
        from .llm import make_client

        return make_client(model, base_url=args.base_url, cache_path=cache, timeout=args.llm_timeout)

    return build


def _cmd_eval(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from .evaluate import (
        AgentSpec,
        EvalResult,
        check_out,
        default_out,
        evaluate,
        load_harness,
        results_table,
        save_eval,
    )
    from .learn.command import LOG_EVERY
    from .watch import EvalWatch

    agents = AgentSpec.parse_list(args.agent)
    opponent = AgentSpec.parse(args.opponent) if args.opponent else None
    stderr = Console(stderr=True)
    harness_path, source = load_harness(Path(args.harness)) if args.harness else (None, None)
    used: dict[str, str] | None = None  # the library harness taken when no --harness was given
    if source is None and (
        needing := [a for a in [*agents, *([opponent] if opponent else [])] if a.needs_harness]
    ):
        found = _library_harness(args.game, needing, args.library)
        source = found.entry.code
        stderr.print(f"harness: {found.describe()}", markup=False, highlight=False, soft_wrap=True)
        used = {"origin": found.origin, "description": found.describe(), "sha256": found.entry.sha256}
    out_dir = Path(args.out) if args.out else default_out(args.game)
    check_out(out_dir)  # before any match: a bad --out must not cost the whole evaluation
    results: list[EvalResult] = []  # filled as it goes: an interrupted eval still saves what was played
    logged = [time.monotonic()]

    def show(watch: EvalWatch) -> None:
        """Inside an agent's evaluation: a redrawn line on a terminal, else one line every LOG_EVERY s."""
        line = f"{args.game} · {watch.label} · {watch.line()}"
        if stderr.is_terminal:
            progress.update(task, description=line)
        elif time.monotonic() - logged[0] >= LOG_EVERY:
            logged[0] = time.monotonic()
            print(line, file=sys.stderr, flush=True)

    try:
        with Progress(console=stderr, transient=True, disable=not stderr.is_terminal) as progress:
            task = progress.add_task(f"{args.game}", total=None)
            evaluate(
                args.game,
                agents,
                opponent=opponent,
                harness_source=source,
                matches=args.matches,
                make_llm=_llm_factory(args),
                max_steps=args.max_steps,
                workers=args.workers,
                temperature=args.temperature,
                on_match=lambda result, _: progress.update(
                    task, advance=1, total=len(agents) * (args.matches or result.num_players * 20)
                ),
                results=results,
                eval_seconds=args.eval_seconds,
                on_progress=show,
            )
    except (KeyboardInterrupt, SandboxError) as exc:  # keep the finished matches, marked as stopped
        played = sum(len(r.matches) for r in results)
        if not played:
            raise
        saved = save_eval(out_dir, results, harness_path=harness_path, harness_source=source)
        note = (
            f"the {played} matches finished are saved in {saved.parent}, marked "
            f"{'interrupted' if isinstance(exc, KeyboardInterrupt) else 'stopped early'} "
            "(an eval has no --resume: run the same command again for the whole protocol)"
        )
        if isinstance(exc, SandboxError):  # printed on one line: the note goes into the message
            raise SandboxError(f"{exc}; {note}") from exc
        exc.add_note(note)
        raise
    out = save_eval(out_dir, results, harness_path=harness_path, harness_source=source)
    summaries = [r.summary() for r in results]
    if args.json:
        payload = {"eval_dir": str(out.parent), "results": summaries} | (
            {"library_harness": used} if used else {}
        )
        print(json.dumps((summaries[0] | payload) if len(summaries) == 1 else payload, indent=2))
    else:
        Console(width=None if sys.stdout.isatty() else 120).print(results_table(results))
        print(f"saved to {out.parent} (autoharness report {out.parent})")
    return 1 if any(r.aborted for r in results) else 0


def _library_harness(game: str, agents: list[AgentSpec], library: str | None) -> Found:
    """The harness ``agents`` play with when no ``--harness`` is given: the user's library, then the
    built-in one, in the first mode every agent can use; a one-line error when neither has one."""
    from .builtin import LayeredLibrary
    from .envs import get_spec
    from .errors import ConfigError
    from .evaluate import USABLE_MODES
    from .library import Library

    get_spec(game)
    modes = tuple(m for m in USABLE_MODES[agents[0].kind] if all(m in USABLE_MODES[a.kind] for a in agents))
    layered = LayeredLibrary(Library(library))
    found = layered.first(game, modes)
    if found is None:
        names = ", ".join(dict.fromkeys(str(a) for a in agents))
        raise ConfigError(
            f"no harness for {game} usable by {names} ({' or '.join(modes) or 'no common'} mode) in your "
            f"library ({layered.user.root}) or the built-in one: pass --harness FILE, or learn one "
            f"(autoharness learn {game} --mode {(modes or ('verifier',))[0]})"
        )
    return found


def _cmd_play(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .evaluate import AgentSpec, load_harness, play

    opponent = AgentSpec.parse(args.opponent) if args.opponent else None
    source = load_harness(Path(args.harness))[1] if args.harness else None
    if source is None and opponent is not None and opponent.needs_harness:  # as eval: a library's harness
        found = _library_harness(args.game, [opponent], args.library)
        source = found.entry.code
        print(f"opponent's harness: {found.describe()}", file=sys.stderr)
    record = play(
        args.game,
        seat=args.seat,
        seed=args.seed,
        opponent=opponent,
        harness_source=source,
        make_llm=_llm_factory(args),
    )
    verdict = record.outcome or f"reward {record.reward:.3f}"
    why = f" — {record.reason}" if record.reason else ""
    print(f"\ngame over after {record.steps} moves ({record.ended}{why}): {verdict}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .report import write_report

    print(write_report(Path(args.source), Path(args.out) if args.out else None))
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .errors import ConfigError
    from .results import write_results

    if len({Path(d).resolve() for d in args.suites}) < len(args.suites):
        raise ConfigError("a suite directory is given twice")
    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise ConfigError(f"--out {out} is a directory: name the markdown file, e.g. {out / 'results.md'}")
    command = shlex.join(["autoharness", "results", *args.suites, *(["-o", args.out] if args.out else [])])
    try:
        text = write_results(args.suites, out, command)
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(out if out is not None else text, end="\n" if out is not None else "")
    return 0


def _cmd_learn(args: argparse.Namespace) -> int:
    from .learn.command import run

    return run(args)


def _cmd_suite(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from rich.console import Console

    from .errors import ConfigError
    from .executors import make_executor
    from .learn.config import LearnConfig
    from .library import default_root
    from .llm.cache import chosen_cache
    from .progress import SuiteDisplay
    from .suite import WORKER_PRELOAD, SuiteConfig, game_dir, run_suite, select_games

    out = Path(args.out)
    learn_flags = (
        *("mode", "max_iterations", "max_llm_calls", "max_tokens", "max_cost_usd", "max_wall_seconds"),
        *("seed", "parallelism", "n_envs", "eval_seconds"),
    )
    suite_flags = (
        *("games", "llm", "base_url", "eval_agent", "matches", "game_timeout", "library", "cache"),
        "llm_timeout",
    )
    given = [name for name in (*suite_flags, *learn_flags) if getattr(args, name) is not None]
    if args.status is not None:
        ignored = [
            *given,
            *(f for f in ("resume", "retry_failed", "no_library", "no_cache") if getattr(args, f)),
        ]
        ignored += [
            f for f in ("rerun", "refine_on_verify", "workers", "address") if getattr(args, f) is not None
        ]
        if ignored:
            flags = ", ".join("--" + name.replace("_", "-") for name in ignored)
            raise ConfigError(f"--status only reads a suite's progress: drop {flags}")
        return _suite_status(Path(args.status or args.out), args.json)
    config = None
    if args.retry_failed and not args.resume:
        raise ConfigError("--retry-failed only applies with --resume")
    rerun = [g.strip() for g in args.rerun.split(",") if g.strip()] if args.rerun is not None else None
    if rerun is not None and not args.resume:
        raise ConfigError("--rerun applies to a suite that exists: add --resume")
    if rerun is not None and not rerun:
        raise ConfigError("--rerun needs game ids, e.g. --rerun Chess-v0,IndianPoker-v0")
    if args.resume:
        if given or args.no_library or args.no_cache:
            dropped = given or ["no_library" if args.no_library else "no_cache"]
            flags = ", ".join("--" + name.replace("_", "-") for name in dropped)
            raise ConfigError(f"--resume runs the suite's stored config; drop {flags}")
    else:
        overrides = {name: getattr(args, name) for name in learn_flags}
        shared_cache = chosen_cache(args.cache, args.no_cache)
        config = SuiteConfig(
            games=select_games("all" if args.games is None else args.games),
            learn=LearnConfig(**{k: v for k, v in overrides.items() if v is not None}),
            llm=args.llm,
            base_url=args.base_url,
            eval_agent=args.eval_agent,
            matches=args.matches,
            game_timeout=args.game_timeout,
            library=None if args.no_library else str(args.library or default_root()),
            cache=None if shared_cache is None else str(shared_cache),
            llm_timeout=args.llm_timeout,
            max_llm_calls=args.max_llm_calls,  # the whole suite's, as well as each game's learning
            max_cost_usd=args.max_cost_usd,
            refine_on_verify=args.refine_on_verify or 0,
        )
    executor = make_executor(args.executor, args.workers, args.address, WORKER_PRELOAD)
    done = 0
    display = SuiteDisplay(Console(stderr=True), lambda game: game_dir(out, game))

    def progress(game: str, status: str, record: dict[str, object]) -> None:
        nonlocal done
        if status == "running":
            display.started(game)
            return
        display.ended(game)
        done += 1
        error = record.get("error")
        detail = error["message"] if isinstance(error, dict) else _suite_game_line(record)
        print(f"[{done:>3}] {game:<28} {status:<6} {detail}", file=sys.stderr, flush=True)

    try:
        with display:
            manifest = run_suite(
                out,
                executor,
                config=config,
                resume=args.resume,
                retry_failed=args.retry_failed,
                refine_on_verify=args.refine_on_verify,
                rerun=rerun,
                on_event=progress,
            )
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: running games stop; finished ones are kept
        if (out / "suite.json").is_file():
            command = ["autoharness", "suite", "--out", str(out), "--resume"]
            for flag in ("executor", "address", "workers"):
                value = getattr(args, flag)
                if value is not None and (flag, value) != ("executor", "local"):
                    command += ["--" + flag, str(value)]
            exc.add_note(f"finished games are kept in {out}: continue with: {shlex.join(command)}")
        raise
    finally:
        executor.close()
    totals = manifest.data["totals"]
    if args.json:
        print(
            json.dumps({"suite": str(out / "suite.json"), "totals": totals, "table": manifest.data["table"]})
        )
    else:
        _print_suite_table(manifest.data["table"])
        paper = totals["paper_learning_steps"]
        paper_calls = "" if paper is None else f" (paper: {paper})"  # verifier learning only
        print(
            f"{totals['done']}/{totals['games']} done, {totals['failed']} failed, "
            f"{totals['reused']} reused from the library; "
            f"{totals['llm_calls']} LLM calls{paper_calls}; "
            f"${totals['cost_usd'] + totals['eval_cost_usd']:.4f}; {out / 'suite.json'}"
        )
        if totals.get("budget_spent"):
            print(
                f"{totals['pending']} games not started: the suite's budget "
                "(--max-llm-calls / --max-cost-usd) is spent"
            )
    return 0 if totals["failed"] == 0 else 1


def _suite_status(directory: Path, as_json: bool) -> int:
    """``suite --status``: the suite's counts and each running game's progress (``autoharness.progress``),
    read without the suite's lock, so from another shell while it runs or after it was killed."""
    import json

    from . import progress
    from ._terminal import printable
    from .suite import SuiteManifest

    manifest = SuiteManifest.load(directory)
    pid = progress.suite_pid(directory)
    totals = manifest.data["totals"]
    running = {
        g: progress.read(manifest.game_dir(g)) for g, r in manifest.games.items() if r["status"] == "running"
    }

    def staleness(entry: dict[str, object] | None) -> str | None:
        if pid is None:
            return "the suite process is gone: the game stopped in this phase; --resume starts it again"
        if progress.stale(entry):
            return "its worker process is gone: the game will be recorded failed or started again"
        return None

    if as_json:
        games = {g: {"progress": e, "stale": staleness(e)} for g, e in running.items()}
        counts = {k: totals[k] for k in ("games", "pending", "running", "done", "failed")}
        print(
            json.dumps(
                {
                    "suite": str(directory),
                    "suite_pid": pid,
                    "updated": manifest.data["updated"],
                    "totals": counts,
                    "running": games,
                }
            )
        )
        return 0
    who = (
        f"suite process {pid} is running" if pid is not None else "no suite process runs (stopped or killed)"
    )
    print(
        f"{directory}: {totals['done']}/{totals['games']} done, {totals['failed']} failed, "
        f"{totals['running']} running, {totals['pending']} pending; {who}; suite.json updated "
        f"{manifest.data['updated']}"
    )
    for game, entry in running.items():
        why = staleness(entry)
        line = printable(progress.describe(entry)) + (f" [stale: {why}]" if why else "")
        print(f"[run] {game:<28} {line}")
    return 0


def _suite_game_line(record: dict[str, object]) -> str:
    result = record.get("result") or {}
    assert isinstance(result, dict)
    learned = result.get("learned") or {}
    seed = result.get("seeded_from")
    how = f"reused from {seed}" if result.get("reused") else "learned"
    if seed and not result.get("reused"):
        how += f" ({seed}'s harness fell short)"
    return f"{how}: legal {learned.get('legal_rate') or 0:.3f}, {learned.get('llm_calls')} calls"


def _print_suite_table(rows: list[dict[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    def num(value: object, fmt: str = "{}") -> str:
        return "" if value is None else fmt.format(value)

    table = Table("game", "status", "from library", "iters", "calls", "legal", "eval", "cost $")
    for name in ("paper calls", "paper legal", "paper reward"):
        table.add_column(name, style="dim")
    for row in rows:
        cost = (row["cost_usd"] or 0.0) + (row["eval_cost_usd"] or 0.0)  # type: ignore[operator]
        tried = row["seeded_from"]
        table.add_row(
            str(row["game"]),
            str(row["status"]),
            f"{tried} ({'reused' if row['reused'] else 'fell short'})" if tried else "",
            num(row["iterations"]),
            num(row["llm_calls"]),
            num(row["legal_rate"], "{:.3f}"),
            row["eval_wdl"] or num(row["eval_reward"], "{:.3f}"),  # type: ignore[arg-type]
            f"{cost:.4f}",
            num(row["paper_learning_steps"]),
            num(row["paper_legal_rate"], "{:.3f}"),
            num(row["paper_reward"], "{:.3f}"),
        )
    Console(width=None if sys.stdout.isatty() else 180).print(table)


def _cmd_library(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ._terminal import printable, printable_block
    from .errors import ConfigError
    from .learn.config import MODES
    from .library import Library

    if args.action == "check":
        return _library_check(args)
    library = Library(args.library)
    if args.action == "list":
        from .builtin import LayeredLibrary, verification_text

        layered = LayeredLibrary(library)
        found = layered.entries(mode=args.mode)
        if args.json:
            rows = [
                {k: v for k, v in f.entry.to_dict().items() if k != "code"}
                | {"origin": f.origin, "shadowed": f.shadowed is not None}
                for f in found
            ]
            print(json.dumps(rows, indent=2))
            return 0
        if not found:
            print(f"no harness in your library ({library.root}) nor in the built-in one")
            return 0
        for f in found:  # an imported bundle's text must not drive the terminal: escape codes shown
            e = f.entry
            seeded = f" (from {printable(e.seeded_from)})" if e.seeded_from else ""
            origin = f.origin + ("*" if f.shadowed is not None else "")
            h = "-" if e.h is None else f"{e.h:.3f}"
            iterations = "-" if e.iterations is None else str(e.iterations)
            # a shipped harness's positions asked: its run's recorded config (a user's entry records none)
            run = layered.builtin.learning_config(e.game, e.mode) if f.origin != "user" else None
            asked = run.get("verify_positions") if isinstance(run, dict) else None
            print(
                f"{printable(e.game):<28} {origin:<9} {printable(e.mode):<8} H {h:<5}  "
                f"legal {e.legal_rate:.3f}  {iterations:>3} it {e.llm_calls:>3} calls  "
                f"{verification_text(e.verification, asked if isinstance(asked, int) else None)}  "
                f"{printable(e.model or '-')}{seeded}"
            )
        users = sum(f.origin == "user" for f in found)
        star = "; *: chosen over the other layer's entry" if any(f.shadowed for f in found) else ""
        print(f"{len(found)} harnesses: {users} yours ({library.root}), {len(found) - users} built-in{star}")
        left = [x for x in layered.builtin.not_shipped if args.mode in (None, x.get("mode"))]
        for failed, why in ((True, "learning failed"), (False, "the campaign has not finished them")):
            group = [x for x in left if (x.get("status") == "failed") is failed]
            if group:
                names = ", ".join(printable(f"{x.get('game')} ({x.get('mode')})") for x in group)
                print(f"{len(group)} games of the shipped campaign have no built-in harness ({why}): {names}")
        return 0
    if args.action == "show":
        from .builtin import LayeredLibrary, verification_text
        from .envs import get_spec

        get_spec(args.game)
        layered = LayeredLibrary(library)
        modes = (args.mode,) if args.mode else MODES
        shown = [f for m in modes if (f := layered.get(args.game, m)) is not None]
        if not shown:
            where = f"your library ({library.root}) or the built-in one"
            raise ConfigError(f"no harness for {args.game} in {where}")
        for f in shown:
            e, p = f.entry, printable
            print(f"# {p(e.game)} ({p(e.family)}) mode={p(e.mode)} legal_rate={e.legal_rate:.3f}", end="")
            print(f" model={p(str(e.model))}")
            print(f"# origin={f.origin} llm_calls={e.llm_calls} iterations={e.iterations}", end="")
            print(f" source={p(e.source)}")
            print(f"# created={p(e.created)} sha256={e.sha256}")
            headline = (e.verification or {}).get("headline")
            detail = f" ({p(str(headline))})" if headline else ""
            print(f"# verification: {verification_text(e.verification)}{detail}")
            print(printable_block(e.code))
        return 0
    if args.action == "export":
        games = None
        if args.games:
            from .suite import select_games

            games = select_games(args.games)
        count = library.export(Path(args.file), games)
        print(f"exported {count} harness(es) to {args.file}")
        return 0
    stored, kept = library.import_bundle(Path(args.file))
    print(f"{stored} stored, {kept} kept (the library already had one at least as good) in {library.root}")
    return 0


def _library_check(args: argparse.Namespace) -> int:
    """``library check``: one line per game (same / differs: which field / ReplayMiss / not run); exit 1
    when any replayed game differs from what ships."""
    import json
    from collections import Counter
    from pathlib import Path

    from ._terminal import printable
    from .replaycheck import check

    games = None
    if args.games:
        from .suite import select_games

        games = select_games(args.games)
    rows = check([Path(d) for d in args.dirs], games)
    required = games is not None
    bad = [r for r in rows if not r.ok(required)]
    if args.json:
        found = [{"game": r.game, "mode": r.mode, "verdict": r.verdict, "detail": r.detail} for r in rows]
        print(json.dumps({"rows": found, "ok": not bad}, indent=2))
        return 1 if bad else 0
    for r in rows:
        print(f"{printable(r.game):<28} {r.mode:<8} {r.verdict:<11} {printable(r.detail)}".rstrip())
    counts = Counter(r.verdict for r in rows)
    print(
        ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
        + " (against the built-in library)"
    )
    if bad:
        print(f"{len(bad)} of {len(rows)} games do not replay to what ships", file=sys.stderr)
    return 1 if bad else 0


def _cmd_rollout(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ._terminal import printable
    from .envs import get_spec, make
    from .errors import ConfigError
    from .evaluate import load_harness
    from .rollout import play_rollout, summarize
    from .sandbox import WorkerPool, check_source

    get_spec(args.game)  # unknown game: one line, before anything starts
    if args.episodes < 1 or args.max_steps < 1:
        raise ConfigError("--episodes and --max-steps must be at least 1")
    _, source = load_harness(Path(args.harness))
    issues = check_source(source, args.mode)
    rollouts = []
    with WorkerPool(1) as pool:
        for seed in range(args.seed, args.seed + args.episodes):
            with pool.session(source, args.mode) as session:
                env = make(args.game)
                rollouts.append(play_rollout(env, session, args.mode, seed, args.max_steps))
    summary = summarize(rollouts) | {"static_issues": [i.describe() for i in issues]}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for issue in issues:
        print(f"static check: {printable(issue.describe())}")
    for ep in summary["episodes"]:  # type: ignore[attr-defined]
        rewards = ", ".join(f"p{p}={v:g}" for p, v in (ep["rewards"] or {}).items()) or "-"
        print(f"seed {ep['seed']}: {ep['legal_steps']}/{ep['steps']} legal, {ep['ended']}; rewards {rewards}")
    for f in summary["failures"]:  # type: ignore[attr-defined]
        detail = f["message"] or f"action {f['action']!r}: {f['env_reason'] or ''}".strip()
        detail = printable(detail)  # harness output: no escape codes, no forged lines
        print(f"  seed {f['seed']} step {f['step']} (player {f['player']}): {f['verdict']}: {detail}")
    rate = summary["legal_rate"]
    print(f"legal_rate {rate:.4f} over {summary['steps']} steps" if rate is not None else "no steps played")
    if summary["dead_positions"]:
        print(
            f"{summary['dead_positions']} episode(s) reached a position with no legal move at all (a game "
            "defect): ended there, not counted against the harness"
        )
    return 0


def _cmd_check_env(args: argparse.Namespace) -> int:
    from .envcheck import check_env

    findings = check_env(args.game)
    for f in findings:
        print(f"{'skip' if f.skipped else 'ok  ' if f.ok else 'FAIL'}  {f.check:<28} {f.detail}".rstrip())
    failed = [f for f in findings if not f.ok]
    print(f"{args.game}: {len(failed)} problem(s)" if failed else f"{args.game}: every check passed")
    return 1 if failed else 0


def _cmd_verify(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from rich.console import Console

    from .evaluate import load_harness
    from .verify import harness_mode, print_report, verify_harness

    path, source = load_harness(Path(args.harness))
    mode = args.mode or harness_mode(path, source)
    stderr = Console(stderr=True)

    def progress(done: int, total: int) -> None:
        if stderr.is_terminal:
            stderr.print(f"\r{done}/{total} positions", end="", markup=False, highlight=False)

    report = verify_harness(
        args.game,
        source,
        mode,
        positions=args.positions,
        seed=args.seed,
        workers=args.workers,
        progress=progress,
        max_seconds=args.max_seconds,
    )
    if stderr.is_terminal:
        stderr.print()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report, Console(width=None if sys.stdout.isatty() else 120))
    return 0 if report.passed else 1


def _cmd_doctor(args: argparse.Namespace) -> int:
    import json

    from .sandbox import sandbox_status

    status = sandbox_status()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        for key, value in status.items():
            print(f"{key:<22} {value}")
    return 0 if status["isolation"] == "bwrap" else 1


def _players_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--players",
        type=positive_int,
        help="players of a package.module:attr game whose env has no num_players",
    )


class _BadFlag(Exception):
    """A flag argparse (or one of ``autoharness.flags``' types) refused."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad flag reported like every other usage error: one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        raise _BadFlag(f"{self.prog}: error: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="autoharness",
        description="LLMs write and repair their own code harness until no illegal move gets through.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("games", help="list the games: the paper's 145 TextArena games and OpenSpiel's")
    p.add_argument(
        "--source",
        choices=("textarena", "openspiel", "user", "all"),
        default="all",
        help="which games (default all; user: ids registered by installed packages)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_games)

    p = sub.add_parser("show", help="print the exact observation the agent gets at the start of a game")
    p.add_argument("game")
    _players_argument(p)
    p.add_argument("--seed", type=finite_int, default=0)
    p.set_defaults(handler=_cmd_show)

    p = sub.add_parser("rollout", help="play a harness file in the sandbox on a real game (every seat)")
    p.add_argument("game")
    _players_argument(p)
    p.add_argument("--harness", required=True, help="harness file (or a learn run dir holding harness.py)")
    p.add_argument("--mode", choices=("verifier", "filter", "policy"), default="verifier")
    p.add_argument("--episodes", type=positive_int, default=1)
    p.add_argument("--seed", type=finite_int, default=0, help="first episode's seed (then +1 per episode)")
    p.add_argument("--max-steps", type=positive_int, default=1000, help="plies per episode")
    p.add_argument("--json", action="store_true", help="machine-readable output (legal_rate, failures, ...)")
    p.set_defaults(handler=_cmd_rollout)

    p = sub.add_parser("check-env", help="does an env keep the Env contract? (as Gymnasium's check_env)")
    p.add_argument("game", help="game id: TextArena, openspiel:NAME, package.module:attr or a registered id")
    _players_argument(p)
    p.set_defaults(handler=_cmd_check_env)

    p = sub.add_parser("verify", help="certify a harness on held-out positions against the game's own rules")
    p.add_argument("game")
    p.add_argument("--harness", required=True, help="harness file (or a learn run dir holding harness.py)")
    p.add_argument("--mode", choices=("verifier", "filter", "policy"), help="default: the run's / header's")
    p.add_argument("--positions", type=int, default=2000, help="positions to check (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="picks the held-out game seeds (default 0)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    p.add_argument("--max-seconds", type=float, help="stop after this much wall time (fewer positions)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_verify)

    p = sub.add_parser("doctor", help="which sandbox protections are active here; python/textarena versions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_doctor)

    p = sub.add_parser("learn", help="learn a harness for a game: the LLM writes and repairs it")
    learn_arguments(p)
    _players_argument(p)
    p.set_defaults(handler=_cmd_learn)

    agent_help = "random | policy | llm:MODEL | verifier:MODEL | filter:MODEL"
    p = sub.add_parser("eval", help="evaluate agents under the paper's protocol (matches, W/D/L, legal rate)")
    p.add_argument("game")
    _players_argument(p)
    p.add_argument("--agent", required=True, help=f"{agent_help}; several, comma-separated: one table")
    p.add_argument("--opponent", help=f"2-player games: {agent_help} (default random)")
    p.add_argument(
        "--harness",
        help="harness file (or a learn run dir holding harness.py); default: the game's harness in your "
        "library, else in the built-in one",
    )
    p.add_argument("--library", help="your harness library (default: $AUTOHARNESS_LIBRARY or XDG)")
    p.add_argument(
        "--matches", type=positive_int, help="default: 20 (1-player) / 40 (2-player, seats split evenly)"
    )
    p.add_argument(
        "--max-steps", type=positive_int, default=1000, help="plies per match before it counts as a draw"
    )
    p.add_argument(
        "--workers", type=positive_int, default=1, help="matches played at once (threads; for LLM agents)"
    )
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for the LLM agents")
    p.add_argument(
        "--temperature",
        type=finite_float,
        default=1.0,
        help="sampling temperature of the LLM agents (default 1.0)",
    )
    p.add_argument(
        "--eval-seconds",
        type=positive_float,
        help="time budget of each agent's evaluation: matches still running are cut, the rest not started "
        "(both reported, neither counted as played)",
    )
    p.add_argument("--out", help="eval dir to write (default runs/eval-GAME-STAMP)")
    add_cache_arguments(p)
    add_llm_timeout_argument(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_cmd_eval)

    p = sub.add_parser("play", help="play a game yourself in the terminal")
    p.add_argument("game")
    _players_argument(p)
    p.add_argument("--opponent", help=f"2-player games: {agent_help} (default random)")
    p.add_argument(
        "--harness",
        help="harness file: warns before an illegal move; used by a policy opponent (default for one: "
        "the game's harness in your library, else the built-in one)",
    )
    p.add_argument("--library", help="your harness library (default: $AUTOHARNESS_LIBRARY or XDG)")
    p.add_argument("--seat", type=nonnegative_int, default=0, help="your seat in a 2-player game")
    p.add_argument("--seed", type=finite_int, default=1_000_000)
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for an LLM opponent")
    add_cache_arguments(p)
    add_llm_timeout_argument(p)
    p.set_defaults(handler=_cmd_play)

    p = sub.add_parser("report", help="write a static HTML report with plots from a run, eval or suite dir")
    p.add_argument("source", metavar="RUN_OR_EVAL_DIR")
    p.add_argument("--out", help="HTML file to write (default SOURCE/report.html)")
    p.set_defaults(handler=_cmd_report)

    p = sub.add_parser(
        "results",
        help="the reproduction tables (docs/results.md) from suite dirs, beside the paper's figures",
    )
    p.add_argument("suites", nargs="+", metavar="SUITE_DIR", help="suite directories (e.g. verifier, policy)")
    p.add_argument("-o", "--out", help="markdown file to write (default: print it)")
    p.set_defaults(handler=_cmd_results)

    p = sub.add_parser("suite", help="learn then evaluate many games (all 145, the eval32 set, or a list)")
    p.add_argument("--games", help="all (default) | eval32 | FILE of ids (one a line) | ID,ID,...")
    p.add_argument("--mode", choices=("verifier", "filter", "policy"), help="harness mode (default verifier)")
    p.add_argument(
        "--llm",
        help="model for learning and LLM agents, e.g. gpt-4o-mini or replay:FILE "
        "(default as in learn: $OPENAI_API_KEY's gpt-4o-mini, else each game's bundled transcript)",
    )
    p.add_argument("--base-url", help="OpenAI-compatible endpoint")
    p.add_argument("--out", default="runs/suite", help="suite directory (default runs/suite)")
    p.add_argument("--executor", choices=("local", "ray"), default="local", help="process pool or Ray")
    p.add_argument("--address", help="Ray cluster to join (with --executor ray; none → local single node)")
    p.add_argument(
        "--workers", type=positive_int, help="games at once = LLM concurrency (default: CPU count)"
    )
    p.add_argument("--resume", action="store_true", help="continue the suite in --out (its stored config)")
    p.add_argument(
        "--status",
        nargs="?",
        const="",
        metavar="DIR",
        help="print the suite's counts and each running game's phase and progress, then exit (DIR: default "
        "--out); works from another shell while the suite runs, or after it was killed",
    )
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --resume: run failed games again (those the sandbox stopped run again on any --resume)",
    )
    p.add_argument(
        "--rerun",
        metavar="GAME[,GAME...]",
        help="with --resume: learn these games of the suite again from nothing, discarding their result in "
        "suite.json, their games/GAME/ directory (run store, its reply record, harness, eval) and the "
        "library entry this suite stored for them; the shared LLM cache is kept",
    )
    p.add_argument(
        "--refine-on-verify",
        type=nonnegative_int,
        metavar="ROUNDS",
        help="up to ROUNDS refinements per game on its verification's counterexamples when the harness "
        "fails verification (a reused family harness that fails is learned from); with --resume, finished "
        "games that failed verification run again (default 0)",
    )
    p.add_argument("--library", help="harness library directory (default: $AUTOHARNESS_LIBRARY or XDG)")
    p.add_argument("--no-library", action="store_true", help="neither reuse nor store library harnesses")
    add_cache_arguments(p)
    add_llm_timeout_argument(p)
    p.add_argument("--eval-agent", help="agent spec for evaluation (default: by mode; 'none' skips it)")
    p.add_argument(
        "--matches", type=positive_int, help="evaluation matches per game (default: paper protocol)"
    )
    p.add_argument(
        "--game-timeout", type=positive_float, help="seconds per game before it is recorded as failed"
    )
    p.add_argument("--max-iterations", type=positive_int, help="learning budget per game: code versions")
    p.add_argument(
        "--max-llm-calls",
        type=positive_int,
        help="budget of the whole suite (learning + LLM evaluation), and so of each game: LLM calls",
    )
    p.add_argument(
        "--max-tokens", type=positive_int, help="learning budget per game: prompt + completion tokens"
    )
    p.add_argument(
        "--max-cost-usd",
        type=positive_float,
        help="budget of the whole suite (learning + LLM evaluation), and so of each game: USD (price table)",
    )
    p.add_argument(
        "--max-wall-seconds", type=positive_float, help="learning budget per game: wall time of the run"
    )
    p.add_argument(
        "--eval-seconds",
        type=positive_float,
        help="time budget of each evaluation (every code version while learning, and the final evaluation): "
        "games still running are cut and reported as cut",
    )
    p.add_argument("--seed", type=nonnegative_int, help="run seed of every game's learner")
    p.add_argument("--parallelism", type=positive_int, help="sandbox workers per game")
    p.add_argument("--n-envs", type=positive_int, help="training rollouts per code version")
    p.add_argument("--json", action="store_true", help="print totals and the table as JSON")
    p.set_defaults(handler=_cmd_suite)

    p = sub.add_parser("library", help="the learned-harness library: list | show | export | import")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--library", help="library directory (default: $AUTOHARNESS_LIBRARY or XDG)")
    a = actions.add_parser("list", parents=[common], help="every harness: yours, then the built-in ones")
    a.add_argument("--mode", choices=("verifier", "filter", "policy"))
    a.add_argument("--json", action="store_true")
    a = actions.add_parser("show", parents=[common], help="a game's harness code (yours, else the built-in)")
    a.add_argument("game")
    a.add_argument("--mode", choices=("verifier", "filter", "policy"))
    a = actions.add_parser("export", parents=[common], help="write the library (or --games) to one JSON file")
    a.add_argument("file")
    a.add_argument("--games", help="all | eval32 | FILE | ID,ID,... (default: everything)")
    a = actions.add_parser("import", parents=[common], help="merge a JSON bundle (better entries win)")
    a.add_argument("file")
    a = actions.add_parser(
        "check",
        help="compare replays (suite or learn run dirs, no model) with the built-in library, game by game",
    )
    a.add_argument("dirs", nargs="+", metavar="DIR", help="suite directories or learn run directories")
    a.add_argument("--games", help="only these: all | eval32 | FILE | ID,ID,... (a game not replayed fails)")
    a.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cmd_library)

    return parser


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While a command runs, SIGTERM (``kill PID``) raises ``Terminated`` in the main thread, so it stops the
    command exactly as Ctrl-C does: context managers close, the run stays resumable, the resume command is
    printed. A second SIGTERM during that clean-up kills at once (the default action; runs are SIGKILL-safe).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _BadFlag as exc:
        print(exc, file=sys.stderr)
        return 2
    # Library warnings (an LLM call being retried, ...) reach the terminal as one plain line each.
    logging.basicConfig(level=logging.WARNING, format="autoharness: %(message)s")
    handler: Handler = args.handler
    try:
        if getattr(args, "players", None) is not None:
            from .envs.user import set_players

            set_players(args.game, args.players)
        with sigterm_interrupts():
            return handler(args)
    except UsageError as exc:
        print(f"autoharness: error: {exc}", file=sys.stderr)
        return 2
    except AutoharnessError as exc:
        print(f"autoharness: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        by = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
        notes = "".join(f"; {note}" for note in getattr(exc, "__notes__", []))
        print(f"autoharness: interrupted ({by}){notes}", file=sys.stderr)
        return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)
    except BrokenPipeError:  # `autoharness games | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
