"""The learning loop: pick a node → ask the LLM → extract code → evaluate → critique → store, until done.

Every iteration is a pure function of the stored tree (scheduler randomness is seeded by the step, the
LLM request carries ``seed = step``), and each new node is committed in one transaction. So a run killed
at any moment resumes where it was: an iteration in flight is redone, and its LLM call is answered by the
run's own cache (``llm_cache.sqlite``) instead of being paid again. The same property makes a replayed
run (``--llm replay:FILE``) build the same tree as the run that was recorded.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._files import atomic_write, dir_lock
from ..envs import get_spec
from ..errors import BadReply, BudgetExceeded, ConfigError
from ..llm.base import LLMClient, Message, PaidBadReply, Params
from ..llm.provenance import answered_by, model_label
from ..sandbox import WorkerPool
from ..search import best_node, make_scheduler
from ..watch import EvalWatch
from .config import LearnConfig
from .critic import BOTH, Feedback, critique, critique_verification
from .evaluation import Evaluation
from .evaluator import EnvFactory, Evaluator
from .refiner import PROMPT_VERSION, child_code, initial_messages, load_prompts, refine_messages
from .store import CallRow, NodeRow, RunStore

LLM_CACHE = "llm_cache.sqlite"
"""The LLM cache file inside a run directory (clients built for a run must use it: resume relies on it)."""
REFINE_VERIFY = "refine_verify"  # node kind of a refinement on verification counterexamples

IDENTITY_FIELDS = (
    "mode",
    "scheduler",
    "heuristic_weight",
    "bfs_branching",
    "seed",
    "n_envs",
    "max_steps",
    "probe",
    "probe_states",
    "probe_actions",
    "feedback_failures",
    "temperature",
    "max_reply_tokens",
)
"""Config fields that shape the tree; a resumed run must keep them (budgets may change)."""


@dataclass(frozen=True, slots=True)
class LearnProgress:
    """A snapshot for a live display, sent after every node and at each phase change."""

    phase: str  # "llm" | "evaluate" | "node" | "done"
    iteration: int  # nodes written so far
    max_iterations: int
    best_h: float
    last_h: float | None
    llm_calls: int
    tokens: int
    cost_usd: float
    note: str = ""
    done: int | None = None  # of ``total`` within the phase (verify: positions), None when it has no count
    total: int | None = None


@dataclass(frozen=True, slots=True)
class LearnResult:
    run_dir: Path
    run_id: str
    game: str
    mode: str
    model: str
    answered_by: list[str]  # who really produced the replies (``llm.provenance``): a stand-in shows here
    best_node: int | None
    h: float
    legal_rate: float
    iterations: int
    llm_calls: int
    tokens: int
    cost_usd: float
    stop_reason: str
    harness_path: Path | None
    summary_path: Path
    cached_calls: int = 0  # of llm_calls, answered from the shared cache or the run's record (free)
    verification: dict[str, Any] | None = None  # autoharness.verify's figures for the harness; None: skipped


Progress = Callable[[LearnProgress], None]


def learn(
    game_id: str,
    config: LearnConfig,
    client: LLMClient,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    resume: bool = False,
    env_factory: EnvFactory | None = None,
    initial_code: str | None = None,
    refine_on_verify: bool = False,
) -> LearnResult:
    """Learn a harness for ``game_id``; the run lives in ``out_dir`` (created, or resumed with ``resume``).

    ``initial_code`` (e.g. the harness of the game's family from the library) becomes the root instead of
    an LLM-written one: it is evaluated first, and refined only if it falls short.
    ``refine_on_verify`` (with ``resume``): instead of continuing the search, one more refinement of the
    run's harness whose feedback is its verification's counterexamples (budgets on iterations do not
    stop it: it was asked for).
    At the end the chosen harness is verified on ``config.verify_positions`` held-out positions
    (``autoharness.verify``; 0 skips it) and the figures go into summary.json and harness.py's header.
    """
    get_spec(game_id)  # unknown game → UnknownGame before anything is written
    out_dir = Path(out_dir)
    if not resume:
        out_dir.mkdir(parents=True, exist_ok=True)
    with dir_lock(out_dir, "learn run"):  # two learners on one run would write duplicate children
        return _learn(
            game_id, config, client, out_dir, progress, resume, env_factory, initial_code, refine_on_verify
        )


def refine_until_verified(
    game_id: str,
    config: LearnConfig,
    client: LLMClient,
    out_dir: Path,
    result: LearnResult,
    rounds: int,
    progress: Progress | None = None,
) -> tuple[LearnResult, int]:
    """Refinements of a finished run on its verification's counterexamples, while the harness it ships is
    refuted (legal rate 1.0 can still be wrong where training never went), until the run holds ``rounds`` of
    them in all — rounds an earlier, interrupted or resumed call made count, so resuming never grants more;
    stops early on a budget. Returns the last result and the rounds the run holds (the suite records them, a
    replay repeats them)."""
    from ..verify import refuted

    used = _verify_repairs(out_dir)
    while used < rounds and refuted(result.verification) and result.harness_path is not None:
        used += 1
        result = learn(
            game_id, config, client, out_dir, progress=progress, resume=True, refine_on_verify=True
        )
        if result.stop_reason.startswith("budget:"):
            break
    return result, used


def _verify_repairs(out_dir: Path) -> int:
    """How many refinements on verification counterexamples the run in ``out_dir`` holds."""
    store = RunStore(out_dir, create=False)
    try:
        return sum(n.kind.startswith(REFINE_VERIFY) for n in store.nodes())
    finally:
        store.close()


def _learn(
    game_id: str,
    config: LearnConfig,
    client: LLMClient,
    out_dir: Path,
    progress: Progress | None,
    resume: bool,
    env_factory: EnvFactory | None,
    initial_code: str | None,
    refine_on_verify: bool,
) -> LearnResult:
    if not resume and (out_dir / RunStore.FILE).exists():
        raise ConfigError(f"{out_dir} already holds a run: resume it with --resume or choose another --out")
    if refine_on_verify and not resume:
        raise ConfigError("refine_on_verify needs resume: it refines an existing run's verified harness")
    store = RunStore(out_dir, create=not resume)
    try:
        meta = _open_run(store, game_id, config, client, resume)
        kwargs = {} if env_factory is None else {"env_factory": env_factory}
        with WorkerPool(config.parallelism) as pool, Evaluator(game_id, config, pool, **kwargs) as evaluator:
            loop = _Loop(store, game_id, config, client, evaluator, progress, initial_code)
            if refine_on_verify:
                stop = loop.refine_on_verification(_counterexamples_to_refine(store, config))
            else:
                stop = loop.run()
        return _finish(store, meta, config, stop, progress)
    finally:
        store.close()


def _open_run(
    store: RunStore, game_id: str, config: LearnConfig, client: LLMClient, resume: bool
) -> dict[str, Any]:
    prompts = load_prompts(PROMPT_VERSION)
    if resume:
        meta = store.meta()
        if "config" not in meta:
            raise ConfigError(f"{store.dir} holds no started run to resume; remove it and start again")
        if meta.get("game") != game_id:
            raise ConfigError(f"{store.dir} is a run of {meta.get('game')!r}, not {game_id!r}")
        stored = LearnConfig.from_dict(meta["config"])
        changed = [f for f in IDENTITY_FIELDS if getattr(stored, f) != getattr(config, f)]
        if changed:
            raise ConfigError(
                f"cannot resume with a different {', '.join(changed)} (only budgets may change)"
            )
        if meta.get("prompt_version") != prompts.version:
            raise ConfigError(
                f"run used prompts {meta.get('prompt_version')}, this version has {prompts.version}"
            )
        store.set_meta(config=config.to_dict())
        return store.meta()
    store.set_meta(
        run_id=uuid.uuid4().hex[:12],
        game=game_id,
        mode=config.mode,
        config=config.to_dict(),
        model=client.model,
        prompt_version=prompts.version,
        prompt_digests=prompts.digests,
        prompts=prompts.texts,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return store.meta()


class _Loop:
    def __init__(
        self,
        store: RunStore,
        game_id: str,
        config: LearnConfig,
        client: LLMClient,
        evaluator: Evaluator,
        progress: Progress | None,
        initial_code: str | None = None,
    ) -> None:
        self.store = store
        self.initial_code = initial_code
        self.game = game_id
        self.cfg = config
        self.client = client
        self.evaluator = evaluator
        self.progress = progress
        self.prompts = load_prompts(PROMPT_VERSION)
        self.observation = evaluator.example_observation()
        self.scheduler = make_scheduler(
            config.scheduler, c=config.heuristic_weight, seed=config.seed, branching=config.bfs_branching
        )

    def run(self) -> str:
        """Iterate until a stop condition holds; returns why it stopped."""
        while True:
            nodes = self.store.nodes()
            stop = self._stop_reason(nodes)
            if stop:
                return stop
            try:
                self._iterate(nodes)
            except BudgetExceeded as exc:
                return f"budget: {exc}"

    def _stop_reason(self, nodes: list[NodeRow]) -> str | None:
        cfg, totals = self.cfg, self.store.totals()
        coded = [n for n in nodes if n.code is not None]
        if coded and max(n.h for n in coded) >= cfg.target_h:
            return "solved" if cfg.target_h >= 1.0 else f"target H {cfg.target_h} reached"
        limits = [
            (cfg.max_iterations, totals.iterations, "iterations"),
            (cfg.max_llm_calls, totals.llm_calls, "LLM calls"),
            (cfg.max_tokens, totals.tokens, "tokens"),
            (cfg.max_cost_usd, totals.cost_usd, "cost (USD)"),
            (cfg.max_wall_seconds, totals.seconds, "wall seconds"),
        ]
        for limit, used, what in limits:
            if limit is not None and used >= limit:
                return f"budget: {what} {used:g} of {limit:g}"
        return None

    def _report(
        self, phase: str, nodes: list[NodeRow], last_h: float | None = None, note: str = ""
    ) -> LearnProgress | None:
        """Send a snapshot to ``progress`` (and return it, for updates during the evaluation)."""
        if self.progress is None:
            return None
        totals = self.store.totals()
        coded = [n.h for n in nodes if n.code is not None]
        snapshot = LearnProgress(
            phase=phase,
            iteration=totals.iterations,
            max_iterations=self.cfg.max_iterations,
            best_h=max(coded, default=0.0),
            last_h=last_h,
            llm_calls=totals.llm_calls,
            tokens=totals.tokens,
            cost_usd=totals.cost_usd,
            note=note,
        )
        self.progress(snapshot)
        return snapshot

    def _evaluation_progress(self, before: LearnProgress | None) -> Callable[[EvalWatch], None] | None:
        """Live counters inside an evaluation (called from rollout threads: no store access here)."""
        if before is None or self.progress is None:
            return None
        progress = self.progress
        return lambda watch: progress(dataclasses.replace(before, note=f"evaluating: {watch.line()}"))

    def refine_on_verification(self, target: tuple[NodeRow, dict[str, Any]]) -> str:
        """One refinement of ``node`` whose feedback is its verification's counterexamples."""
        node, verification = target
        try:
            self._iterate(
                self.store.nodes(), (node, critique_verification(verification, self.cfg.feedback_failures))
            )
        except BudgetExceeded as exc:
            return f"budget: {exc}"
        return f"refined node {node.id} on its verification counterexamples"

    def _iterate(self, nodes: list[NodeRow], forced: tuple[NodeRow, Feedback] | None = None) -> None:
        start = time.monotonic()
        parent: NodeRow | None = None
        if not nodes and self.initial_code is not None:  # a given root (e.g. from the library): no LLM call
            code, call, failure_text = self.initial_code, None, ""
            kind, note = "given", "evaluating the given harness"
        else:
            parent, kind, note, code, call, failure_text = self._write(nodes, forced)
        if code is None:
            ev = Evaluation(mode=self.cfg.mode)
            summary = {**ev.summary(), "problems": 1, "bad_reply": failure_text}
            fb_text, fb_kind = failure_text, None
        else:
            before = self._report("evaluate", nodes, note=f"evaluating on {self.cfg.n_envs} games")
            wall = self.cfg.max_wall_seconds  # enforced during the evaluation too, not only between nodes
            deadline = None if wall is None else start + wall - self.store.totals().seconds
            ev = self.evaluator.evaluate(code, deadline, self._evaluation_progress(before))
            fb = critique(ev, self.cfg.feedback_failures)
            summary = {**ev.summary(), "problems": fb.failures}
            fb_text, fb_kind = fb.text, fb.kind
            if ev.out_of_time:
                fb_text = f"(The evaluation was cut by the run's wall-clock budget: H 0.)\n\n{fb_text}"
        self.store.add_node(
            parent=parent.id if parent else None,
            kind=kind if code is not None else f"{kind}:bad_reply",
            code=code,
            h=ev.h,
            legal_rate=ev.legal_rate,
            evaluation=summary,
            feedback=fb_text,
            refine_kind=fb_kind,
            seconds=time.monotonic() - start,
            call=call,
        )
        self._report("node", self.store.nodes(), last_h=ev.h, note=note)

    def _write(
        self, nodes: list[NodeRow], forced: tuple[NodeRow, Feedback] | None = None
    ) -> tuple[NodeRow | None, str, str, str | None, CallRow | None, str]:
        """Ask the LLM for the next code version: the root, or a refinement of the node the scheduler picks
        (or of ``forced``'s node with its feedback). Returns (parent, node kind, progress note, code or None,
        the call, why the reply was unusable)."""
        step = len(nodes)
        parent: NodeRow | None = None
        if forced is not None:
            parent, feedback = forced
            messages = refine_messages(
                self.prompts, self.game, self.observation, self.cfg.mode, parent.code or "", feedback
            )
            kind, refine = REFINE_VERIFY, feedback.kind
            note = f"refining node {parent.id} on its verification counterexamples"
        elif any(n.code is not None for n in nodes):
            parent = self.store.node(self.scheduler.select([n.as_search_node() for n in nodes], step))
            feedback = Feedback(parent.feedback, parent.refine_kind or BOTH, parent.evaluation["problems"])
            messages = refine_messages(
                self.prompts, self.game, self.observation, self.cfg.mode, parent.code or "", feedback
            )
            kind, refine = "refine_" + feedback.kind, feedback.kind
            note = f"refining node {parent.id} ({feedback.kind})"
        else:
            messages = initial_messages(self.prompts, self.game, self.observation, self.cfg.mode)
            kind, refine, note = "root", BOTH, "writing the harness"
        self._report("llm", nodes, note=note)
        params = Params(temperature=self.cfg.temperature, max_tokens=self.cfg.max_reply_tokens, seed=step)
        code, call, failure_text = self._ask(messages, params, refine, parent)
        return parent, kind, note, code, call, failure_text

    def _ask(
        self, messages: list[Message], params: Params, kind: str, parent: NodeRow | None
    ) -> tuple[str | None, CallRow | None, str]:
        """(code or None, the call to link to the node, why the reply was unusable)."""
        try:
            completion = self.client.complete(messages, params)[0]
        except BadReply as exc:  # the backend itself could not produce a usable reply
            paid = None
            if isinstance(exc, PaidBadReply):  # ...but the server answered: the call counts
                paid = CallRow(
                    model=exc.model,
                    provenance=exc.provenance,
                    prompt_tokens=exc.usage.prompt_tokens,
                    completion_tokens=exc.usage.completion_tokens,
                    cost_usd=exc.cost_usd,
                    cached=False,
                    prompt=[{"role": m["role"], "content": m["content"]} for m in messages],
                )
            return None, paid, f"The reply could not be used: {exc}"
        call = CallRow(
            model=completion.model,
            provenance=completion.provenance,
            prompt_tokens=completion.usage.prompt_tokens,
            completion_tokens=completion.usage.completion_tokens,
            cost_usd=completion.cost_usd,
            cached=completion.cached,
            prompt=[{"role": m["role"], "content": m["content"]} for m in messages],
        )
        try:
            return child_code(completion.text, self.cfg.mode, kind, parent and parent.code), call, ""
        except BadReply as exc:
            return None, call, f"The reply could not be used: {exc}"


MAX_VERIFIED_ALTERNATIVES = 2
"""When the best node fails verification, at most this many other nodes with the same H are verified too."""


Positions = Callable[[NodeRow, int, int], None]
"""``(node, positions done, positions asked)`` while a node is verified: a live display's count."""


def _verification(
    store: RunStore, game: str, config: LearnConfig, node: NodeRow, on_positions: Positions | None = None
) -> dict[str, Any]:
    """``node``'s verification: stored in the run (meta ``verifications``) once made, so resuming, finishing
    again or refining does not pay for it twice."""
    from ..verify import verify_harness

    stored = store.meta().get("verifications", {})
    key = f"{node.id}:{config.verify_positions}:{config.seed}"
    if key not in stored or _cut_by_clock(stored[key]):
        workers = config.parallelism if config.verify_positions >= PARALLEL_VERIFY_FROM else 1
        report = verify_harness(
            game,
            node.code or "",
            config.mode,
            positions=config.verify_positions,
            seed=config.seed,
            workers=workers,
            progress=None if on_positions is None else lambda done, total: on_positions(node, done, total),
        )  # no wall-time budget: the figures (and a refinement's prompt built on them) must replay anywhere
        stored[key] = report.to_dict() | {"node": node.id}
        store.set_meta(verifications=stored)
    return stored[key]


def _cut_by_clock(verification: dict[str, Any]) -> bool:
    """A verification recorded before learn stopped cutting it at 10 minutes of wall time, and cut there:
    its figures depend on the machine that ran it, so resuming the run verifies that node again."""
    from ..verify import TIME_CUT

    return str(verification.get("stopped") or "").startswith(TIME_CUT)


PARALLEL_VERIFY_FROM = 200
"""Below this many positions verification runs in this process: starting worker processes costs more."""


def _verified_choice(
    store: RunStore,
    game: str,
    config: LearnConfig,
    best: NodeRow,
    coded: list[NodeRow],
    on_positions: Positions | None = None,
) -> tuple[NodeRow, dict[str, Any]]:
    """The harness to ship and its verification: ``best``, unless it fails verification and another node
    with the same H (newest first: a refinement on counterexamples comes later) has fewer disagreements."""
    chosen, verification = best, _verification(store, game, config, best, on_positions)
    ties = sorted((n for n in coded if n.h == best.h and n.id != best.id), key=lambda n: -n.id)
    for node in ties[:MAX_VERIFIED_ALTERNATIVES]:
        if verification["passed"]:
            break
        other = _verification(store, game, config, node, on_positions)
        if other["disagreements"] < verification["disagreements"] or (
            other["passed"] and not verification["passed"]
        ):
            chosen, verification = node, other
    store.set_meta(verified_node=chosen.id)
    return chosen, verification


def _counterexamples_to_refine(store: RunStore, config: LearnConfig) -> tuple[NodeRow, dict[str, Any]]:
    """The run's shipped harness and its failed verification (verified now if it never was)."""
    meta = store.meta()
    coded = [n for n in store.nodes() if n.code is not None]
    if not coded:
        raise ConfigError(f"{store.dir} has no harness yet: nothing to refine")
    if config.verify_positions == 0:
        raise ConfigError("--refine-on-verify needs verification: drop --verify-positions 0")
    node_id = meta.get("verified_node")
    if node_id is None:
        best = store.node(best_node([n.as_search_node() for n in coded]).id)
        node, verification = _verified_choice(store, meta["game"], config, best, coded)
    else:
        node = store.node(node_id)
        verification = _verification(store, meta["game"], config, node)
    if verification["passed"]:
        raise ConfigError(
            f"node {node.id}'s harness passed verification on {verification['positions']} held-out "
            "positions: there is no counterexample to feed back"
        )
    return node, verification


def _finish(
    store: RunStore, meta: dict[str, Any], config: LearnConfig, stop: str, progress: Progress | None
) -> LearnResult:
    nodes = store.nodes()
    totals = store.totals()
    coded = [n for n in nodes if n.code is not None]
    best = store.node(best_node([n.as_search_node() for n in coded]).id) if coded else None
    verification = None
    if best is not None and config.verify_positions > 0:
        on_positions: Positions | None = None
        if progress is not None:
            verifying = LearnProgress(
                "verify",
                totals.iterations,
                config.max_iterations,
                best.h,
                None,
                totals.llm_calls,
                totals.tokens,
                totals.cost_usd,
                f"verifying on {config.verify_positions} held-out positions",
                done=0,
                total=config.verify_positions,
            )
            progress(verifying)
            report = progress

            def counted(node: NodeRow, done: int, total: int) -> None:
                note = f"verifying node {node.id}: {done}/{total} held-out positions"
                report(dataclasses.replace(verifying, note=note, done=done, total=total))

            on_positions = counted

        best, verification = _verified_choice(store, meta["game"], config, best, coded, on_positions)
    calls = store.calls()
    models = sorted({c.model for c in calls}) or [meta["model"]]
    answerers = answered_by(c.provenance for c in calls)
    harness_path = None
    if best is not None:
        harness_path = store.dir / "harness.py"
        header = [
            "# Harness learned by autoharness (https://arxiv.org/abs/2603.03329, reproduced).",
            f"# game: {meta['game']}",
            f"# mode: {config.mode}",
            f"# legal rate: {best.legal_rate:.4f} (H {best.h:.4f}) on training seeds {config.train_seeds[0]}"
            f"..{config.train_seeds[-1]}",
            f"# model: {model_label(', '.join(models), answerers)}",
            f"# date: {datetime.now(UTC).isoformat(timespec='seconds')}",
            f"# run id: {meta['run_id']} (node {best.id} of {len(nodes)}, prompts {meta['prompt_version']})",
            "# " + (verification["headline"] if verification else "not verified (--verify-positions 0)"),
        ]
        atomic_write(harness_path, "\n".join(header) + "\n\n" + (best.code or "").rstrip("\n") + "\n")
    summary = {
        "run_id": meta["run_id"],
        "game": meta["game"],
        "mode": config.mode,
        "model": ", ".join(models),
        "answered_by": answerers,
        "legal_rate": best.legal_rate if best else 0.0,
        "h": best.h if best else 0.0,
        # The best node's training games that reached a position with no legal move (a game defect: not
        # counted against the harness, see rollout.RolloutEnd.DEAD_POSITION).
        "dead_positions": int(best.evaluation.get("dead_positions", 0)) if best else 0,
        "best_node": best.id if best else None,
        "iterations": totals.iterations,
        "llm_calls": totals.llm_calls,
        "cached_llm_calls": totals.cached_calls,
        "tokens": totals.tokens,
        "cost_usd": round(totals.cost_usd, 6),
        "seconds": round(totals.seconds, 3),
        "stop_reason": stop,
        "prompt_version": meta["prompt_version"],
        "probe": config.probe,
        "scheduler": config.scheduler,
        "tree": [{"id": n.id, "parent": n.parent, "kind": n.kind, "h": round(n.h, 6)} for n in nodes],
        "verification": verification,
    }
    summary_path = store.dir / "summary.json"
    atomic_write(summary_path, json.dumps(summary, indent=2) + "\n")
    result = LearnResult(
        run_dir=store.dir,
        run_id=meta["run_id"],
        game=meta["game"],
        mode=config.mode,
        model=summary["model"],
        answered_by=answerers,
        best_node=summary["best_node"],
        h=summary["h"],
        legal_rate=summary["legal_rate"],
        iterations=totals.iterations,
        llm_calls=totals.llm_calls,
        tokens=totals.tokens,
        cost_usd=totals.cost_usd,
        stop_reason=stop,
        harness_path=harness_path,
        summary_path=summary_path,
        cached_calls=totals.cached_calls,
        verification=verification,
    )
    if progress is not None:
        progress(
            LearnProgress(
                "done",
                totals.iterations,
                config.max_iterations,
                result.h,
                None,
                totals.llm_calls,
                totals.tokens,
                totals.cost_usd,
                stop,
            )
        )
    return result


__all__ = ["LLM_CACHE", "LearnProgress", "LearnResult", "learn", "refine_until_verified"]
