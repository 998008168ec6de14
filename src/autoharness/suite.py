"""Learn and evaluate many games — the paper's whole table — on a local process pool or a Ray cluster.

A suite directory holds::

    suite.json                  the manifest: config, per-game status and results, summary table, totals
    games/<game>/learn/         the learner's run directory (SQLite store, summary.json, harness.py)
    games/<game>/harness.py     the harness the game ended with (learned, or reused from the library)
    games/<game>/eval/eval.json the paper-protocol evaluation (``autoharness.evaluate``)
    games/<game>/error.txt      traceback of the last failure, when there was one
    games/<game>/progress.json  the game's phase and count while it runs (``autoharness.progress``)

``suite.json`` (format ``autoharness-suite``, version 1) is rewritten atomically after every state change,
so a suite killed at any moment resumes from it (``--resume``): finished games are kept, games that were
running start again (the learner resumes its own run directory), failed games stay failed unless
``--retry-failed`` — except those stopped by the machine, not by their game (``MACHINE_ERRORS``: the sandbox
could not run a harness), which start again on any ``--resume``. ``--rerun GAME,...`` learns the named
games again from nothing: their record in ``suite.json``, their directory ``games/<game>/`` (run store, the
run's own reply record ``learn/llm_cache.sqlite``, harness, evaluation) and the library entry this suite
stored for them are discarded first; the shared LLM cache (``config.cache``) is kept, so a request asked
before is answered from it. Its shape::

    {"format": "autoharness-suite", "version": 1, "created": ISO, "updated": ISO,
     "config": {games, mode, llm, base_url, learn: {LearnConfig}, eval_agent, matches, game_timeout, library},
     "games": {GAME: {"status": "pending|running|done|failed", "attempts": N, "started": ISO|null,
                      "finished": ISO|null, "result": {...}|null, "error": {kind, type, message}|null}},
     "table": [ROW, ...],     one row per game: ours beside the paper's (see ``TABLE_COLUMNS``)
     "totals": {...}}

Scheduling: games of one family (``Chess-v0``, ``Chess-v0-long``, ...) run one after another, the base game
first, until the family has a harness in the library; then each variant starts from the best harness its
family has so far (``autoharness.library``) and they run in parallel (a variant that does not converge, e.g.
a blind one, no longer holds the others back); games of different families run in parallel, the costliest
families first (``schedule_order``), each worker
calling the LLM on its own — the configured worker count is the LLM concurrency, and the learner's budgets
(calls, tokens, money, wall time) apply per game.
A game whose library harness already reaches the target H on the game's own training seeds is not learned
at all: it costs no LLM call.
With no model configured, each game replays its shipped transcript (``autoharness.builtin``), starting from
the harness its recorded run started from (not the library's) with its recorded learning config and
``refine_on_verify`` rounds (the suite's budgets still apply), so the shipped campaign replays as it ran.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._files import atomic_write, dir_lock
from ._schema import checked, short
from .builtin import BuiltinLibrary, replaying_shipped
from .envs import get_spec, list_games
from .errors import ConfigError, UnknownGame
from .executors import Executor, Outcome
from .learn.config import LearnConfig
from .library import Library, LibraryEntry
from .llm.provenance import model_label
from .paper import LEARNING_MODE, paper_agent, paper_learning, paper_table
from .progress import GameProgress
from .progress import clear as clear_progress
from .verify import brief, refuted, verdict, verify_harness

if TYPE_CHECKING:
    from .learn.evaluator import Evaluation
    from .learn.loop import LearnProgress
    from .watch import EvalWatch

SUITE_FILE = "suite.json"
SUITE_FORMAT = "autoharness-suite"
SUITE_VERSION = 1
WORKER_PRELOAD = (
    "autoharness.suite",
    "autoharness.envs.textarena",
    "autoharness.learn.loop",
    "autoharness.llm",
    "autoharness.evaluate",
    "openai",  # the SDK the LLM client imports on first use (~1,300 modules)
)
"""What a local worker imports before its first game (``LocalExecutor(preload=...)``): seconds per worker."""
OFFLINE_LLMS = ("replay", "manual")
"""LLM spec prefixes that cannot act at test time (a transcript has no answers to evaluation prompts)."""

TABLE_COLUMNS = (
    "game",
    "family",
    "players",
    "status",
    "seeded_from",
    "reused",
    "iterations",
    "llm_calls",
    "tokens",
    "cost_usd",
    "legal_rate",
    "h",
    "verified",
    "eval_agent",
    "eval_legal_rate",
    "eval_reward",
    "eval_wdl",
    "eval_cost_usd",
    "seconds",
    "error",
    "paper_learning_steps",
    "paper_legal_rate",
    "paper_eval_set",
    "paper_reward",
)
"""Row keys of ``suite.json["table"]``; ``paper_*`` are the paper's published figures for the same game,
like with like (``paper_columns``: learning figures for verifier suites; ``paper_reward`` for 1-player
evaluation games and the same kind of agent as ours, ``autoharness.paper.AGENT_COLUMN``)."""


# ---------------------------------------------------------------- game selection and the paper's columns


def select_games(spec: str) -> list[str]:
    """``all`` (the 145 games), ``eval32`` (the paper's evaluation set), a FILE of ids (one a line, ``#``
    comments), or comma-separated ids. Unknown ids are an error naming close ones; duplicates are dropped."""
    if spec == "all":
        return [g.id for g in list_games()]
    if spec == "eval32":
        return [g.id for g in list_games() if g.eval_set]
    path = Path(spec)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read games file {path}: {exc}") from exc
        ids = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        origin = f"{path}: "
    else:
        ids = [part.strip() for part in spec.split(",")]
        origin = ""
    ids = [i for i in ids if i]
    if not ids:
        raise ConfigError(f"{origin or '--games '}selects no games (use all, eval32, a FILE or ids)")
    for game in ids:
        try:
            get_spec(game)
        except UnknownGame as exc:
            if not origin and len(ids) == 1 and ("/" in spec or spec.endswith((".txt", ".tsv"))):
                raise ConfigError(f"no such games file: {spec}") from exc
            raise ConfigError(f"{origin}{exc}") from exc
    return list(dict.fromkeys(ids))


def paper_columns(game: str, eval_agent: str | None, mode: str) -> dict[str, Any]:
    """The paper's published figures for ``game``, as the ``paper_*`` columns of the table, like with like
    (``autoharness.paper``): the learning figures only for a verifier-mode suite, ``paper_reward`` only for
    an agent kind the paper evaluated (``eval_agent``: a spec like ``policy`` or ``verifier:MODEL``) on a
    1-player evaluation game; None elsewhere. A game outside the paper (OpenSpiel, a user's env) has None
    in every column."""
    learning = paper_learning(game, mode)
    agent = paper_agent(game, eval_agent)
    row = paper_table("games145").get(game)
    return {
        "paper_learning_steps": learning.llm_calls if learning else None,
        "paper_legal_rate": learning.legal_rate if learning else None,
        "paper_eval_set": row["eval_set"] == "yes" if row else None,
        "paper_reward": agent.reward if agent else None,
    }


def schedule_order(games: list[str]) -> list[str]:
    """Family by family, the base game of each family first, the costliest families first.

    A family is a chain until its first harness is learned (its games wait for it), so a suite ends no
    sooner than its longest family: starting the longest chains first (LPT scheduling) keeps the workers
    busy to the end. The cost of a game is the paper's LLM calls to learn it (``paper_learning_steps``),
    the best estimate we have.
    """
    families: dict[str, list[str]] = {}
    for game in games:
        families.setdefault(get_spec(game).family, []).append(game)
    cost = {
        fam: sum(get_spec(g).paper_learning_steps or 0 for g in members) for fam, members in families.items()
    }
    ordered = sorted(families, key=lambda fam: (-cost[fam], fam))
    return [g for fam in ordered for g in sorted(families[fam], key=lambda g: (g != fam, g))]


# ---------------------------------------------------------------- one game, in a worker process


@dataclass(frozen=True, slots=True)
class SuiteConfig:
    """What a suite runs; stored in ``suite.json`` so ``--resume`` runs exactly the same thing."""

    games: list[str]
    learn: LearnConfig = field(default_factory=LearnConfig)
    llm: str | None = None
    base_url: str | None = None
    eval_agent: str | None = None  # an ``autoharness eval`` agent spec, "none" to skip; None → by mode
    matches: int | None = None  # None → the paper's protocol (20 / 40)
    game_timeout: float | None = None  # seconds per game (learn + evaluate) before it is recorded failed
    library: str | None = None  # library directory; None → no library
    cache: str | None = None  # the shared LLM cache file (learning and LLM agents); None → none
    llm_timeout: float | None = None  # seconds per LLM request as a whole; None → the client's default
    max_llm_calls: int | None = None  # the whole suite's budget (learning + LLM evaluation); None → none
    max_cost_usd: float | None = None  # the same, in money
    refine_on_verify: int = 0  # rounds of refinement on verification counterexamples per game (0: none)

    def __post_init__(self) -> None:
        """Everything checkable before the first game starts (not after hours of learning)."""
        if self.matches is not None and (type(self.matches) is not int or self.matches < 1):
            raise ConfigError(f"matches must be a whole number ≥ 1, not {self.matches!r}")
        timeout = self.game_timeout
        if timeout is not None and not (isinstance(timeout, int | float) and 0 < timeout < float("inf")):
            raise ConfigError(f"game_timeout must be a finite number of seconds > 0, not {timeout!r}")
        if type(self.refine_on_verify) is not int or self.refine_on_verify < 0:
            raise ConfigError(f"refine_on_verify must be a whole number ≥ 0, not {self.refine_on_verify!r}")
        if self.eval_agent not in (None, "none"):
            from .evaluate import AgentSpec

            AgentSpec.parse(self.eval_agent)

    @property
    def resolved_eval_agent(self) -> str | None:
        """The agent spec games are evaluated with (None: no evaluation)."""
        if self.eval_agent == "none":
            return None
        if self.eval_agent:
            return self.eval_agent
        if self.learn.mode != "policy" and self.llm and self.llm.split(":", 1)[0] not in OFFLINE_LLMS:
            return f"{self.learn.mode}:{self.llm}"
        # No live model to act at test time: the harness plays alone (filter: random over its legal list).
        return "random" if self.learn.mode == "filter" else "policy"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "learn": self.learn.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuiteConfig:
        return cls(**{**data, "learn": LearnConfig.from_dict(data["learn"])})

    def repairs(self, result: dict[str, Any] | None) -> bool:
        """Whether a finished game's harness failed verification and has repair rounds left (rounds are per
        game in all: a resume refines only those that used fewer than ``refine_on_verify``)."""
        learned = (result or {}).get("learned") or {}
        used = learned.get("verify_repairs") or 0
        return used < self.refine_on_verify and refuted(learned.get("verification"))


@dataclass(frozen=True, slots=True)
class Share:
    """A game's part of the suite-wide budget (``SuiteConfig.max_llm_calls`` / ``max_cost_usd``)."""

    llm_calls: int | None
    cost_usd: float | None

    def after(self, calls: int, cost_usd: float) -> Share:
        """What is left of this share once ``calls`` and ``cost_usd`` were spent."""
        return Share(
            None if self.llm_calls is None else max(0, self.llm_calls - calls),
            None if self.cost_usd is None else max(0.0, self.cost_usd - cost_usd),
        )


@dataclass(frozen=True, slots=True)
class GameTask:
    """Everything a worker needs for one game (picklable: crosses to a pool process or a Ray node)."""

    game: str
    game_dir: str
    config: SuiteConfig
    seed: LibraryEntry | None = None  # the family's best harness when the game was dispatched
    share: Share | None = None  # this game's part of the suite's budget (learning + LLM evaluation)


def run_game(task: GameTask) -> dict[str, Any]:
    """Learn (or reuse) then evaluate one game; returns the JSON-ready result stored in the manifest.

    Runs in a worker process. Errors propagate: the executor records them as this game's failure.
    """
    start = time.perf_counter()
    cfg = task.config
    seed = task.seed
    builtin = BuiltinLibrary()
    if replaying_shipped(cfg.llm) and (shipped := builtin.run(task.game, cfg.learn.mode)):
        # Replaying the campaign: start where its run started (not from the library), learn with its
        # recorded config and repair rounds, or the replay would ask other prompts (and a reused harness
        # would be scored and verified on other seeds and positions than it shipped with).
        seed = shipped.seed_entry()
        cfg = replace(cfg, refine_on_verify=shipped.refine_on_verify)
        if (recorded := builtin.learning_config(task.game, cfg.learn.mode)) is not None:
            cfg = replace(cfg, learn=LearnConfig.from_dict(recorded))
    if task.share is not None:  # the game's learning may spend at most its share of the suite's budget
        learn_cfg = cfg.learn
        calls = _least(learn_cfg.max_llm_calls, task.share.llm_calls)
        usd = _least(learn_cfg.max_cost_usd, task.share.cost_usd)
        cfg = replace(cfg, learn=replace(learn_cfg, max_llm_calls=calls, max_cost_usd=usd))
    game_dir = Path(task.game_dir)
    game_dir.mkdir(parents=True, exist_ok=True)
    report = GameProgress(game_dir, task.game)  # games/<game>/progress.json: ``autoharness.progress``
    result: dict[str, Any] = {"seeded_from": None, "seed_legal_rate": None, "reused": False}
    code: str | None = None
    why = "it has no library harness"
    if seed is not None:
        seed_eval = _score_code(task.game, cfg.learn, seed.code, report, seed.game)
        result |= {"seeded_from": seed.game, "seed_legal_rate": seed_eval.legal_rate}
        why = f"the library harness of {seed.game} reaches only H {seed_eval.h:.3f} here"
        if seed_eval.load_failure is None and seed_eval.h >= cfg.learn.target_h:
            reused = {
                "reused": True,
                "model": seed.model,
                "learned": {
                    "legal_rate": seed_eval.legal_rate,
                    "h": seed_eval.h,
                    "iterations": 0,
                    "llm_calls": 0,
                    "tokens": 0,
                    "cost_usd": 0.0,
                    "verification": _verify_reused(task.game, cfg.learn, seed.code, report, seed.game),
                },
            }
            why = f"the library harness of {seed.game} fails verification here"
            if not cfg.repairs(reused):  # one that fails verification here is refined when the suite repairs
                code = seed.code
                result |= reused
    if code is None:
        start_from = seed.code if seed is not None else None
        code, result["learned"], result["model"] = _learn(
            task.game, cfg, game_dir / "learn", why, start_from, report
        )
    atomic_write(game_dir / "harness.py", code)
    learned = result["learned"]
    left = task.share.after(learned["llm_calls"], learned["cost_usd"]) if task.share else None
    result["eval"] = _evaluate(task.game, cfg, code, game_dir / "eval", left, report)
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result | {"code": code}  # the scheduler's copy: a Ray node's disk may not be the driver's


def _verify_reused(
    game: str, config: LearnConfig, code: str, report: GameProgress | None = None, origin: str = ""
) -> dict[str, Any] | None:
    """A family harness reused unchanged is verified on this game, as a learned one would be."""
    if config.verify_positions == 0:
        return None
    what = f"verifying the library harness of {origin} on held-out positions"
    if report is not None:
        report.update("verify-reused", what, 0, config.verify_positions)
    verification = verify_harness(
        game,
        code,
        config.mode,
        positions=config.verify_positions,
        seed=config.seed,
        progress=None
        if report is None
        else lambda done, total: report.update("verify-reused", what, done, total),
    )  # no wall-time budget: the figures go into the suite and the library, and must replay anywhere
    return brief(verification.to_dict())


def _score_code(
    game: str, config: LearnConfig, code: str, report: GameProgress | None = None, origin: str = ""
) -> Evaluation:
    """The learner's own evaluation of ``code`` on ``game``'s training seeds (no LLM involved)."""
    from .learn.evaluator import Evaluator
    from .sandbox import WorkerPool

    what = f"the library harness of {origin} on the training seeds"
    on_progress = None
    if report is not None:
        report.update("score", what, 0, len(config.train_seeds))

        def on_progress(watch: EvalWatch) -> None:
            report.update("score", f"{what}: {watch.line()}", watch.finished + watch.cut, watch.games)

    with WorkerPool(config.parallelism) as pool, Evaluator(game, config, pool) as evaluator:
        return evaluator.evaluate(code, on_progress=on_progress)


def _llm_spec(game: str, cfg: SuiteConfig, why: str) -> str:
    """The client spec for learning ``game``, resolved as ``autoharness learn`` does; ``why`` (the reason it
    needs learning) goes into the error when no LLM is configured."""
    from .learn.command import resolve_llm

    try:
        return resolve_llm(cfg.llm, game, cfg.learn.mode)[0]
    except ConfigError as exc:
        raise ConfigError(f"{game} needs learning ({why}): {exc}") from exc


def _learn(
    game: str,
    cfg: SuiteConfig,
    run_dir: Path,
    why: str,
    start_from: str | None,
    report: GameProgress | None = None,
) -> tuple[str, dict[str, Any], str | None]:
    """Run (or resume, after an interruption) the learner, from the family's harness when there is one
    (``start_from``: refining it is cheaper than writing from nothing); returns (code, figures, model)."""
    from .learn.loop import LLM_CACHE, learn, refine_until_verified
    from .learn.store import RunStore
    from .llm import make_client

    client = make_client(
        _llm_spec(game, cfg, why),
        base_url=cfg.base_url,
        cache_path=cfg.cache,
        record_path=run_dir / LLM_CACHE,
        timeout=cfg.llm_timeout,
    )
    resume = (run_dir / RunStore.FILE).exists()
    progress = None if report is None else lambda p: _report_learning(report, p)
    with closing(client):  # a suite worker learns many games: release each game's cache connection
        res = learn(
            game, cfg.learn, client, run_dir, progress=progress, resume=resume, initial_code=start_from
        )
        res, repairs = refine_until_verified(
            game, cfg.learn, client, run_dir, res, cfg.refine_on_verify, progress=progress
        )
    if res.harness_path is None:
        raise RuntimeError(f"learning {game} produced no usable harness (stopped: {res.stop_reason})")
    learned = {
        "legal_rate": res.legal_rate,
        "h": res.h,
        "iterations": res.iterations,
        "llm_calls": res.llm_calls,
        "tokens": res.tokens,
        "cost_usd": res.cost_usd,
        "stop_reason": res.stop_reason,
        "verification": brief(res.verification),
        "verify_repairs": repairs,
    }
    return res.harness_path.read_text(encoding="utf-8"), learned, model_label(res.model, res.answered_by)


def _report_learning(report: GameProgress, p: LearnProgress) -> None:
    """The learner's snapshot as the game's progress: its iteration and LLM call, or its verification."""
    if p.phase == "verify":
        report.update("verify", p.note, p.done, p.total)
        return
    under_way = p.iteration + (p.phase in ("llm", "evaluate"))  # the iteration being made
    head = f"iteration {under_way}" + (f" of {p.max_iterations}" if p.max_iterations else "")
    if p.phase == "llm":
        detail = f"{head} · waiting for LLM call {p.llm_calls + 1}: {p.note}"
    elif p.phase == "evaluate":
        detail = f"{head} · {p.note}"
    else:  # a node was written, or the search stopped
        last = "" if p.last_h is None else f"H {p.last_h:.3f}, "
        detail = f"{head} done: {last}best H {p.best_h:.3f}, {p.llm_calls} LLM calls" + (
            f" · {p.note}" if p.note else ""
        )
    report.update("learn", detail, force=p.phase != "evaluate")


def _least(a: Any, b: Any) -> Any:
    """The smaller of two optional limits (None: no limit)."""
    return b if a is None else a if b is None else min(a, b)


def _evaluate(
    game: str,
    cfg: SuiteConfig,
    code: str,
    out: Path,
    share: Share | None = None,
    report: GameProgress | None = None,
) -> dict[str, Any] | None:
    """The paper-protocol evaluation of ``code`` with the suite's eval agent; its summary (or None). LLM
    agents spend at most ``share`` (what is left of the game's part of the suite budget): past it the
    evaluation stops early, its played matches kept (``aborted``)."""
    from .evaluate import AgentSpec, evaluate, save_eval

    agent = cfg.resolved_eval_agent
    if agent is None:
        return None
    make_llm = None
    if cfg.llm is not None:
        from .llm import make_client
        from .llm.cost import Budget

        budget = Budget(max_calls=share.llm_calls, max_usd=share.cost_usd) if share else None

        def make_llm(model: str) -> Any:
            return make_client(
                model, base_url=cfg.base_url, cache_path=cfg.cache, timeout=cfg.llm_timeout, budget=budget
            )

    on_progress = None
    if report is not None:
        report.update("evaluate", f"{agent}: starting")

        def on_progress(watch: EvalWatch) -> None:
            report.update("evaluate", f"{agent}: {watch.line()}", watch.finished + watch.cut, watch.games)

    results = evaluate(
        game,
        [AgentSpec.parse(agent)],
        harness_source=code,
        matches=cfg.matches,
        make_llm=make_llm,
        eval_seconds=cfg.learn.eval_seconds,
        on_progress=on_progress,
    )
    save_eval(out, results, harness_path=out.parent / "harness.py", harness_source=code)
    return results[0].summary()


# ---------------------------------------------------------------- the manifest


def read_summary(path: Path) -> dict[str, Any]:
    """A learning run's summary.json, or nothing (no run, or not readable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def game_dir(directory: Path, game: str) -> Path:
    """Where the suite in ``directory`` keeps ``game``'s files (module docstring)."""
    return directory / "games" / game


class SuiteManifest:
    """``suite.json``: loaded once, mutated by the (single) scheduling process, saved atomically."""

    def __init__(self, directory: Path, data: dict[str, Any]) -> None:
        self.directory = directory
        self.data = data
        self.config = SuiteConfig.from_dict(data["config"])

    @classmethod
    def create(cls, directory: Path, config: SuiteConfig) -> SuiteManifest:
        if (directory / SUITE_FILE).exists():
            raise ConfigError(f"{directory} already holds a suite: pass --resume, or choose another --out")
        directory.mkdir(parents=True, exist_ok=True)
        data = {
            "format": SUITE_FORMAT,
            "version": SUITE_VERSION,
            "created": _now(),
            "updated": _now(),
            "config": config.to_dict(),
            "games": {g: _fresh_record() for g in config.games},
        }
        manifest = cls(directory, data)
        manifest.save()
        return manifest

    @classmethod
    def load(cls, directory: Path) -> SuiteManifest:
        path = directory / SUITE_FILE
        if not path.is_file():
            raise ConfigError(f"no suite to resume in {directory} (no {SUITE_FILE})")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except RecursionError:
            raise ConfigError(f"cannot read {path}: its JSON is nested too deeply") from None
        except (OSError, ValueError) as exc:  # ValueError: bad JSON, bad UTF-8, numbers too long
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        stamp = (data.get("format"), data.get("version")) if isinstance(data, dict) else None
        if stamp != (SUITE_FORMAT, SUITE_VERSION):
            raise ConfigError(f"{path} is not a version-{SUITE_VERSION} autoharness suite manifest")
        _check_manifest(data, str(path))
        try:
            return cls(directory, data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: damaged suite manifest ({type(exc).__name__}: {exc})") from exc

    @property
    def games(self) -> dict[str, dict[str, Any]]:
        return self.data["games"]

    def game_dir(self, game: str) -> Path:
        return game_dir(self.directory, game)

    def mark(self, game: str, **changes: Any) -> None:
        self.games[game].update(changes)
        self.save()

    def save(self) -> None:
        self.data["updated"] = _now()
        self.data["table"] = self.table()
        self.data["totals"] = self.totals()
        atomic_write(self.directory / SUITE_FILE, json.dumps(self.data, indent=2) + "\n")

    def table(self) -> list[dict[str, Any]]:
        """One row per game, ours beside the paper's (keys: ``TABLE_COLUMNS``)."""
        return [self._row(game, record) for game, record in self.games.items()]

    def _row(self, game: str, record: dict[str, Any]) -> dict[str, Any]:
        spec = get_spec(game)
        result = record.get("result") or {}
        learned = result.get("learned") or {}
        ev = result.get("eval") or {}
        wdl = None
        if ev and spec.players > 1 and ev.get("matches"):
            from .evaluate import wdl_text

            wdl = wdl_text(ev)
        error = record.get("error")
        row = {
            "game": game,
            "family": spec.family,
            "players": spec.players,
            "status": record["status"],
            "seeded_from": result.get("seeded_from"),
            "reused": result.get("reused", False),
            "iterations": learned.get("iterations"),
            "llm_calls": learned.get("llm_calls"),
            "tokens": learned.get("tokens"),
            "cost_usd": learned.get("cost_usd"),
            "legal_rate": learned.get("legal_rate"),
            "h": learned.get("h"),
            "verified": verdict(learned.get("verification")) if record["status"] == "done" else None,
            "eval_agent": ev.get("agent"),
            "eval_legal_rate": ev.get("legal_rate"),
            "eval_reward": ev.get("mean_reward"),
            "eval_wdl": wdl,
            "eval_cost_usd": ev.get("cost_usd"),
            "seconds": result.get("seconds"),
            "error": f"{error['kind']}: {error['type']}: {error['message']}" if error else None,
        }
        return row | paper_columns(game, self.config.resolved_eval_agent, self.config.learn.mode)

    def eval_agents(self) -> list[str]:
        """The agent specs the games were evaluated with, from their own eval records (a suite resumed with
        another config keeps the evaluations it made before); the config's agent when none has one yet."""
        agents = {
            str(ev["agent"])
            for r in self.games.values()
            if (ev := (r.get("result") or {}).get("eval") or {}).get("agent")
        }
        if agents:
            return sorted(agents)
        agent = self.config.resolved_eval_agent
        return [agent] if agent else []

    def spent(self) -> tuple[int, float]:
        """LLM calls and USD spent by the finished games (learning + evaluation): the suite budget's use."""
        calls = cost = 0.0
        for game, record in self.games.items():
            res = record.get("result")
            parts = [res.get("learned") or {}, res.get("eval") or {}] if res else []
            if record["status"] == "failed":  # its spending is in its learning run's summary, if any
                parts = [read_summary(self.game_dir(game) / "learn" / "summary.json")]
            for part in parts:
                calls += part.get("llm_calls") or 0
                cost += part.get("cost_usd") or 0.0
        return int(calls), cost

    def finished(self) -> list[str]:
        """The games that ran to an end (done or failed): the paper's figures beside ours are over these, so
        an unfinished suite is never compared with the paper's whole table."""
        return [g for g, r in self.games.items() if r["status"] in ("done", "failed")]

    def totals(self) -> dict[str, Any]:
        records = list(self.games.values())
        statuses = [r["status"] for r in records]
        results = [r["result"] for r in records if r.get("result")]
        learned = [res.get("learned") or {} for res in results]
        return {
            "games": len(records),
            **{s: statuses.count(s) for s in ("pending", "running", "done", "failed")},
            "reused": sum(bool(res.get("reused")) for res in results),
            "llm_calls": sum(x.get("llm_calls") or 0 for x in learned),
            "tokens": sum(x.get("tokens") or 0 for x in learned),
            "cost_usd": sum(x.get("cost_usd") or 0.0 for x in learned),
            "eval_cost_usd": sum((res.get("eval") or {}).get("cost_usd") or 0.0 for res in results),
            "eval_llm_calls": sum((res.get("eval") or {}).get("llm_calls") or 0 for res in results),
            "budget_spent": bool(self.data.get("budget_spent")),  # games left pending: suite budget spent
            **self._paper_totals(),
        }

    def _paper_totals(self) -> dict[str, Any]:
        """The aggregates the paper reports, ours over this suite's games beside the paper's over the same
        games (never over games we did not run or that have not finished; the mean iterations on the
        evaluation set over exactly the games we have a figure for): games solved, mean iterations on the
        evaluation set, games converged in under ``QUICK_ITERATIONS``, the 1-player mean reward, the 2-player
        W/D/L by play.

        Ours count finished games only (``*_games`` says how many of how many); a harness reused from its
        family took 0 iterations of its own (``*_reused`` says how many of the counted games were).
        """
        verifier = self.config.learn.mode == LEARNING_MODE
        done = {g: r["result"] for g, r in self.games.items() if r["status"] == "done" and r.get("result")}
        learned = {g: res.get("learned") or {} for g, res in done.items()}
        eval_set = [g for g in self.games if get_spec(g).eval_set]
        eval_done = [g for g in eval_set if g in done and learned[g].get("iterations") is not None]
        steps = {g: f.llm_calls for g in self.finished() if (f := paper_learning(g, LEARNING_MODE))}
        quick = [
            g for g, x in learned.items() if converged(x) and (x.get("iterations") or 0) < QUICK_ITERATIONS
        ]
        agents = self.eval_agents()
        agent = agents[0] if len(agents) == 1 else None  # the paper's column over all its games: one kind
        one = [g for g in self.games if get_spec(g).players == 1 and g in paper_table("reward_1p")]
        evals = {
            g: ev
            for g in one
            if g in done and (ev := done[g].get("eval") or {}).get("mean_reward") is not None
        }
        rewards = {g: ev["mean_reward"] for g, ev in evals.items()}
        beside = [
            a.reward
            for g, ev in evals.items()
            if (a := paper_agent(g, ev.get("agent"))) and a.reward is not None
        ]
        paper_all = [a.reward for g in one if (a := paper_agent(g, agent)) and a.reward is not None]
        two = [g for g in eval_set if get_spec(g).players == 2]
        evals2 = [ev for g in two if g in done and (ev := done[g].get("eval") or {}).get("matches")]
        return {
            # verifier suites only (the paper's learning figures); games outside the paper add nothing
            "paper_learning_steps": sum(steps.values()) if verifier else None,
            "solved": sum(solved(x) for x in learned.values()),
            "paper_solved": sum(f.legal_rate >= 1.0 for g in steps if (f := paper_learning(g, LEARNING_MODE)))
            if verifier
            else None,
            "eval_set_games": len(eval_set),
            "eval_set_done": len(eval_done),
            "eval_set_reused": sum(bool(done[g].get("reused")) for g in eval_done),
            "mean_iterations_eval_set": _mean([learned[g]["iterations"] for g in eval_done]),
            "paper_mean_steps_eval_set": _mean([steps[g] for g in eval_done if g in steps])
            if verifier
            else None,
            "converged_under_10": len(quick),
            "converged_under_10_reused": sum(bool(done[g].get("reused")) for g in quick),
            "paper_under_10": sum(s < QUICK_ITERATIONS for s in steps.values()) if verifier else None,
            "reward_1p_games": len(one),
            "reward_1p_done": len(rewards),
            "reward_1p_mean": _mean(list(rewards.values())),
            # the paper's column for the same kind of agent: over the games we have, and over all of them
            "paper_reward_1p_mean": _mean(beside) if len(beside) == len(rewards) else None,
            "paper_reward_1p_mean_all": _mean(paper_all),
            "wdl_2p_games": len(two),
            "wdl_2p_done": len(evals2),
            "wdl_2p": {key: sum(by_play(ev)[key] for ev in evals2) for key in WDL_KEYS} if evals2 else None,
        }


QUICK_ITERATIONS = 10
"""The paper counts the games whose harness converged in fewer iterations than this."""
WDL_KEYS = (
    "matches",
    "wins_by_play",
    "draws",
    "losses_by_play",
    "wins_by_forfeit",
    "losses_by_forfeit",
    "cut",
    "dead_positions",
)
"""A 2-player evaluation's outcomes with the forfeits apart (``by_play``)."""


def converged(learned: dict[str, Any]) -> bool:
    """The harness reached legal rate 1.0 on its training rollouts (the paper's convergence)."""
    return (learned.get("legal_rate") or 0.0) >= 1.0


def solved(learned: dict[str, Any]) -> bool:
    """Converged and passed verification on held-out positions: what we count as a game solved."""
    return converged(learned) and bool((learned.get("verification") or {}).get("passed"))


def by_play(ev: dict[str, Any]) -> dict[str, int]:
    """A 2-player eval summary's outcomes (``WDL_KEYS``), wins and losses by play apart from forfeits (an
    eval written before ``wins_by_play`` existed gives it as wins minus wins by forfeit)."""
    out = {key: int(ev.get(key) or 0) for key in WDL_KEYS}
    out["wins_by_play"] = int(ev["wins"]) - out["wins_by_forfeit"]
    out["losses_by_play"] = int(ev["losses"]) - out["losses_by_forfeit"]
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


STATUSES = ("pending", "running", "done", "failed")
_CONFIG_FIELDS = {
    "games": "str[]",
    "learn": "dict",
    "llm": "str?",
    "base_url": "str?",
    "eval_agent": "str?",
    "matches": "int?",
    "game_timeout": "num?",
    "library": "str?",
    "cache": "str?",
    "llm_timeout": "num?",
    "refine_on_verify": "int?",
}
_GAME_FIELDS = {
    "status": "str",
    "attempts": "int",
    "started": "str?",
    "finished": "str?",
    "result": "dict?",
    "error": "dict?",
}
_ERROR_FIELDS = {"kind": "str", "type": "str", "message": "str"}
_RESULT_FIELDS = {"learned": "dict?", "eval": "dict?", "seeded_from": "str?", "seconds": "num?"}
_LEARNED_FIELDS = {
    "iterations": "int?",
    "llm_calls": "int?",
    "tokens": "int?",
    "cost_usd": "num?",
    "legal_rate": "num?",
    "h": "num?",
}
_EVAL_FIELDS = {
    "agent": "str?",
    "matches": "int?",
    "legal_rate": "num?",
    "mean_reward": "num?",
    "cost_usd": "num?",
    **dict.fromkeys(("wins", "draws", "losses", "wins_by_forfeit", "losses_by_forfeit", "cut"), "int?"),
}


def _check_manifest(data: dict[str, Any], where: str) -> None:
    """Every field a resume or the table reads has its type, and every status is one the scheduler
    knows: a hand-edited suite.json is a one-line error, never a traceback or a game silently skipped
    (an unknown status used to leave the game unrun while the suite said "0 failed")."""
    config = checked(data.get("config"), _CONFIG_FIELDS, f"{where}: config")
    games = data.get("games")
    if not isinstance(games, dict) or not games:
        raise ConfigError(f"{where}: 'games' should be an object of game id → record")
    for game, record in games.items():
        at = f"{where}: games[{short(game)}]"
        get_spec(game)
        checked(record, _GAME_FIELDS, at)
        if record["status"] not in STATUSES:
            raise ConfigError(
                f"{at}: unknown status {short(record['status'])} (expected {', '.join(STATUSES)})"
            )
        if record["attempts"] < 0:
            raise ConfigError(f"{at}: 'attempts' should not be negative")
        if record["error"] is not None:
            checked(record["error"], _ERROR_FIELDS, f"{at}.error")
        result = record["result"]
        if result is not None:
            checked(result, _RESULT_FIELDS, f"{at}.result")
            if result.get("learned") is not None:
                checked(result["learned"], _LEARNED_FIELDS, f"{at}.result.learned")
            ev = result.get("eval")
            if ev is not None:
                checked(ev, _EVAL_FIELDS, f"{at}.result.eval")
                if ev.get("matches") and get_spec(game).players > 1:
                    checked(ev, dict.fromkeys(("wins", "draws", "losses"), "int"), f"{at}.result.eval")
    missing = [g for g in config["games"] if g not in games]
    if missing:
        raise ConfigError(f"{where}: config lists games with no record: {', '.join(map(short, missing[:5]))}")


# ---------------------------------------------------------------- the scheduler


Event = Callable[[str, str, dict[str, Any]], None]
"""``on_event(game, status, record)`` after each state change (the CLI prints a line)."""


def run_suite(
    directory: Path,
    executor: Executor,
    *,
    config: SuiteConfig | None = None,
    resume: bool = False,
    retry_failed: bool = False,
    refine_on_verify: int | None = None,
    rerun: list[str] | None = None,
    on_event: Event | None = None,
) -> SuiteManifest:
    """Run every not-yet-finished game of the suite in ``directory`` on ``executor``; returns the manifest.

    A new suite needs ``config``; ``resume`` continues the stored one (its config wins over ``config``).
    One game's failure is recorded in the manifest and never stops the others. ``refine_on_verify`` given
    with ``resume`` replaces the stored rounds (a budget, like ``retry_failed``): finished games whose
    harness failed verification then run again. ``rerun`` (with ``resume``): games of the suite to learn
    again from nothing (module docstring); a name not in the suite is a ``ConfigError`` before anything
    is touched.
    """
    if rerun and not resume:
        raise ConfigError("--rerun applies to a suite that exists: add --resume")
    if not resume:
        if config is None:
            raise ConfigError("a new suite needs a config")
        directory.mkdir(parents=True, exist_ok=True)
    with dir_lock(directory, "suite"):  # two processes on one suite would run every game twice
        return _run_suite(
            directory, executor, config, resume, retry_failed, refine_on_verify, rerun or [], on_event
        )


def _run_suite(
    directory: Path,
    executor: Executor,
    config: SuiteConfig | None,
    resume: bool,
    retry_failed: bool,
    refine_on_verify: int | None,
    rerun: list[str],
    on_event: Event | None,
) -> SuiteManifest:
    if resume:
        manifest = SuiteManifest.load(directory)
        if refine_on_verify is not None:
            manifest.config = replace(manifest.config, refine_on_verify=refine_on_verify)
            manifest.data["config"] = manifest.config.to_dict()
    else:
        assert config is not None
        manifest = SuiteManifest.create(directory, config)
    cfg = manifest.config
    library = Library(cfg.library) if cfg.library else None
    if rerun:
        _forget(manifest, rerun, library)
    again = {"pending", "running", *(["failed"] if retry_failed else [])}
    todo = [
        g
        for g in schedule_order(list(manifest.games))
        if manifest.games[g]["status"] in again
        or (manifest.games[g]["status"] == "failed" and _machine_failed(manifest.games[g]))
        or (manifest.games[g]["status"] == "done" and cfg.repairs(manifest.games[g]["result"]))
    ]
    for game in todo:
        manifest.games[game].update(status="pending", result=None, error=None)
    manifest.save()
    busy_families: Counter[str] = Counter()  # family → its games running now
    shares: dict[str, Share] = {}  # running game → its part of the suite budget
    manifest.data["budget_spent"] = False

    def share_for_next() -> Share | bool | None:
        """A fair part of what the suite budget leaves (False: nothing left, start no further game)."""
        if cfg.max_llm_calls is None and cfg.max_cost_usd is None:
            return None
        spent_calls, spent_usd = manifest.spent()
        slots = max(1, executor.workers - len(shares))
        calls = usd = None
        if cfg.max_llm_calls is not None:
            left = cfg.max_llm_calls - spent_calls - sum(s.llm_calls or 0 for s in shares.values())
            calls = left // slots
            if calls < 1:
                return False
        if cfg.max_cost_usd is not None:
            left_usd = cfg.max_cost_usd - spent_usd - sum(s.cost_usd or 0.0 for s in shares.values())
            usd = left_usd / slots
            if usd <= 0:
                return False
        return Share(calls, usd)

    def dispatch() -> None:
        for game in list(todo):
            if executor.pending() >= executor.workers:
                return
            share = share_for_next()
            if share is False:
                if not manifest.data.get("budget_spent"):  # the rest stays pending: the budget is spent
                    manifest.data["budget_spent"] = True
                    manifest.save()
                return
            family = get_spec(game).family
            seed = library.best_for(game, cfg.learn.mode) if library else None
            if busy_families[family] and seed is None:
                continue  # its family's first harness is being learned: start from it, not from nothing
            todo.remove(game)
            busy_families[family] += 1
            task = GameTask(game, str(manifest.game_dir(game)), cfg, seed, share or None)
            if share:
                shares[game] = share
            attempts = manifest.games[game]["attempts"] + 1
            clear_progress(manifest.game_dir(game))  # an earlier attempt's entry is not this one's
            manifest.mark(game, status="running", attempts=attempts, started=_now(), finished=None)
            executor.submit(game, run_game, task, cfg.game_timeout)
            if on_event:
                on_event(game, "running", manifest.games[game])

    dispatch()
    while executor.pending():
        outcome = executor.next_outcome()
        busy_families[get_spec(outcome.key).family] -= 1
        shares.pop(outcome.key, None)
        _record(manifest, outcome, library, cfg)
        if on_event:
            on_event(outcome.key, manifest.games[outcome.key]["status"], manifest.games[outcome.key])
        dispatch()
    return manifest


MACHINE_ERRORS = frozenset({"SandboxError"})
"""Errors that stop a game for the machine's fault, not the game's or its harness's (no harness was scored
for them): such a failed game runs again on any ``--resume``, its learner resuming its own run."""


def _machine_failed(record: dict[str, Any]) -> bool:
    error = record.get("error")
    return error is not None and error.get("type") in MACHINE_ERRORS


def _fresh_record() -> dict[str, Any]:
    """A game's record before its first attempt."""
    return {
        "status": "pending",
        "attempts": 0,
        "started": None,
        "finished": None,
        "result": None,
        "error": None,
    }


def _forget(manifest: SuiteManifest, games: list[str], library: Library | None) -> None:
    """Discard what the suite holds of ``games`` so they are learned again (``run_suite``'s ``rerun``):
    the record, the game's directory, the library entry that directory stored. The shared LLM cache stays."""
    unknown = [g for g in dict.fromkeys(games) if g not in manifest.games]
    if unknown:
        raise ConfigError(
            f"not in the suite in {manifest.directory}: {', '.join(unknown)} "
            f"(it has {len(manifest.games)} games; see its suite.json)"
        )
    started = _started_from(manifest, set(games))
    if started:
        raise ConfigError(
            f"--rerun {','.join(dict.fromkeys(games))}: {', '.join(started)} started from its harness; rerun "
            "them too (add them to --rerun), or their library entries would seed it with a copy of its own"
        )
    for game in dict.fromkeys(games):
        game_dir = manifest.game_dir(game)
        if game_dir.exists():
            shutil.rmtree(game_dir)
        if library is not None:
            library.discard(game, manifest.config.learn.mode, str(game_dir))
        manifest.games[game] = _fresh_record()
    manifest.save()


def _started_from(manifest: SuiteManifest, games: set[str]) -> list[str]:
    """The suite's other games that started from the harness of one of ``games``, or of such a game.

    Their library entries outlive a ``--rerun`` of ``games``: the rerun game would then start from its
    family's best, a copy of its own old harness, and be recorded as reusing it from that game (a
    TowerOfHanoi-v0 rerun alone came back "reused from TowerOfHanoi-v0-extreme", whose harness was its own),
    its learning run gone."""
    found: set[str] = set()
    frontier = set(games)
    while frontier:
        frontier = {
            game
            for game, record in manifest.games.items()
            if (record.get("result") or {}).get("seeded_from") in frontier and game not in games | found
        }
        found |= frontier
    return sorted(found)


def _record(manifest: SuiteManifest, outcome: Outcome, library: Library | None, cfg: SuiteConfig) -> None:
    """Store one finished game in the manifest, and its harness in the library."""
    game = outcome.key
    if outcome.error is not None:
        err = outcome.error
        if err.traceback:
            atomic_write(manifest.game_dir(game) / "error.txt", err.traceback)
        error = {"kind": str(err.kind), "type": err.type, "message": err.message}
        manifest.mark(game, status="failed", finished=_now(), error=error)
        return
    result: dict[str, Any] = dict(outcome.value)
    code: str = result.pop("code")
    game_dir = manifest.game_dir(game)
    game_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(game_dir / "harness.py", code)
    if library is not None:
        learned = result["learned"]
        seed_game = result.get("seeded_from")
        library.put(
            LibraryEntry(
                game=game,
                mode=cfg.learn.mode,
                code=code,
                legal_rate=learned["legal_rate"] or 0.0,
                h=learned.get("h"),
                model=result.get("model"),
                llm_calls=learned.get("llm_calls") or 0,
                iterations=learned.get("iterations"),
                source=str(game_dir),
                seeded_from=seed_game if seed_game != game else None,
                created=_now(),
                verification=learned.get("verification"),
            )
        )
    manifest.mark(game, status="done", finished=_now(), result=result, error=None)


__all__ = [
    "SUITE_FILE",
    "TABLE_COLUMNS",
    "WORKER_PRELOAD",
    "GameTask",
    "SuiteConfig",
    "SuiteManifest",
    "game_dir",
    "paper_columns",
    "run_game",
    "run_suite",
    "schedule_order",
    "select_games",
]
