"""A static HTML report (no server) with plots, from a learn run dir, an eval dir, or a suite of them.

Reading is a small registry: each ``Reader`` recognises one kind of result directory and adds what it holds
to ``ReportData``. ``collect`` applies every reader to the given directory and then to its subdirectories
(a suite is a directory of per-game run/eval dirs), so a new kind of result is one new reader, nothing else.

Plots (matplotlib, Agg, PNG beside the page in ``<page>_files/``):

* learning: legal-action rate (H) of every code version vs iteration, parent→child edges, best so far,
  and the search tree itself coloured by H;
* win/draw/loss bars per game and agent (2-player evaluations);
* reward and legal rate per game beside the paper's published columns (1-player evaluations);
* cost vs performance per agent, and LLM calls to learn vs the paper's.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure  # the object API: no pyplot, no global backend state
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ._files import atomic_write
from ._schema import checked as _checked
from .errors import ConfigError
from .evaluate import EVAL_FILE, FORFEIT_NOTE, wdl_text
from .llm.provenance import model_label
from .paper import PAPER_COLUMNS, paper_agent, paper_learning, paper_table
from .verify import verdict

SUMMARY_FILE = "summary.json"
MAX_DEPTH = 3
"""How deep ``collect`` looks below the given directory (suite/game/kind)."""

WIN, DRAW, LOSS = "#2e7d32", "#9e9e9e", "#c62828"
OURS = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#558b2f"]
PAPER_GREYS = ["#d7ccc8", "#bcaaa4", "#a1887f", "#8d6e63", "#6d4c41", "#4e342e"]


@dataclass(slots=True)
class RunData:
    """A learning run: its ``summary.json`` and every node of its search tree."""

    path: Path
    summary: dict[str, Any]
    nodes: list[dict[str, Any]]  # id, parent, depth, h


@dataclass(slots=True)
class EvalData:
    """An eval dir: one result summary per agent spec."""

    path: Path
    payload: dict[str, Any]

    @property
    def results(self) -> list[dict[str, Any]]:
        return self.payload.get("results", [])


@dataclass(slots=True)
class SuiteData:
    """A suite's manifest (``suite.json``): its per-game table (ours beside the paper's) and totals, and
    the reproduction tables built from it (``autoharness.results``; the same as ``autoharness results``)."""

    path: Path
    manifest: dict[str, Any]
    tables: list[Any] = field(default_factory=list)  # autoharness.results.Table


@dataclass(slots=True)
class ReportData:
    source: Path
    runs: list[RunData] = field(default_factory=list)
    evals: list[EvalData] = field(default_factory=list)
    suites: list[SuiteData] = field(default_factory=list)

    @property
    def results(self) -> list[dict[str, Any]]:
        """Every agent's result summary, each tagged with the eval dir it came from (relative)."""
        return [r | {"source": str(e.path.relative_to(self.source))} for e in self.evals for r in e.results]


@dataclass(frozen=True, slots=True)
class Reader:
    """Recognises one kind of result directory and adds its contents to the report."""

    name: str
    matches: Callable[[Path], bool]
    read: Callable[[Path, ReportData], None]


# --- reading result files: every value is checked before use (a hand-edited file is one line naming it) ---

RUN_FIELDS = {
    "game": "str",
    "mode": "str?",
    "model": "str?",
    "answered_by": "str[]?",
    "legal_rate": "num?",
    "iterations": "int?",
    "llm_calls": "int?",
    "tokens": "int?",
    "cost_usd": "num?",
    "best_node": "int?",
    "stop_reason": "str?",
    "tree": "dict[]?",
}
NODE_FIELDS = {"id": "int", "parent": "int?", "h": "num"}
EVAL_FIELDS = {"created": "str?", "harness": "dict?", "results": "dict[]"}
HARNESS_FIELDS = {"path": "str?", "sha256": "str?"}
RESULT_FIELDS = {
    "game": "str",
    "agent": "str",
    "opponent": "str?",
    "num_players": "int",
    "matches": "int",
    "seeds": "int[]",
    "legal_rate": "num?",
    "mean_reward": "num?",
    "caught": "int",
    "fallback_moves": "int",
    "harness_failures": "int",
    "llm_calls": "int",
    "tokens": "int",
    "cost_usd": "num",
    "provenance": "str[]?",
    "opponent_legal_rate": "num?",
    "aborted": "str?",
}
TWO_PLAYER_FIELDS = {
    "wins": "int",
    "draws": "int",
    "losses": "int",
    "wins_by_forfeit": "int?",
    "losses_by_forfeit": "int?",
    "cut": "int?",
    "win_rate": "num?",
    "draw_rate": "num?",
    "loss_rate": "num?",
}
SUITE_FIELDS = {"table": "dict[]?", "totals": "dict?"}


def _read_run(path: Path, data: ReportData) -> None:
    """The learner's ``summary.json``; its ``tree`` (id, parent, kind, h per node) is the search tree, read
    from the JSON rather than the SQLite store so a copied or read-only run dir reports the same."""
    file = path / SUMMARY_FILE
    where = f"{file}: not a run as autoharness writes it"
    summary = _checked(_json(file), RUN_FIELDS, where)
    tree = [_checked(n, NODE_FIELDS, f"{where}: tree") for n in summary.get("tree") or []]
    ids = {n["id"] for n in tree}
    if summary.get("best_node") is not None and summary["best_node"] not in ids:
        raise ConfigError(f"{where}: best_node {summary['best_node']} is not a node of its tree")
    parent = {n["id"]: n["parent"] for n in tree}

    def depth(node: int | None) -> int:
        d = 0
        while parent.get(node) is not None and d <= len(parent):  # bounded even on a corrupt cycle
            node, d = parent[node], d + 1
        return d

    nodes = [
        {"id": n["id"], "parent": n["parent"], "h": float(n["h"]), "depth": depth(n["id"])} for n in tree
    ]
    data.runs.append(RunData(path, summary, nodes))


def _read_eval(path: Path, data: ReportData) -> None:
    file = path / EVAL_FILE
    where = f"{file}: not an eval as autoharness writes it"
    payload = _checked(_json(file), EVAL_FIELDS, where)
    if payload.get("harness") is not None:
        _checked(payload["harness"], HARNESS_FIELDS, f"{where}: harness")
    for i, result in enumerate(payload["results"]):
        _checked(result, RESULT_FIELDS, f"{where}: results[{i}]")
        if result["num_players"] > 1:
            _checked(result, TWO_PLAYER_FIELDS, f"{where}: results[{i}]")
    data.evals.append(EvalData(path, payload))


def _suite_file() -> str:
    from .suite import SUITE_FILE  # imported on use: the suite module pulls in the executors

    return SUITE_FILE


def _read_suite(path: Path, data: ReportData) -> None:
    """The manifest's own table and totals; when it is a whole manifest (config and games, as ``autoharness
    suite`` writes it), also the reproduction tables, checked as ``--resume`` checks it."""
    file = path / _suite_file()
    where = f"{file}: not a suite as autoharness writes it"
    manifest = _checked(_json(file), SUITE_FIELDS, where)
    tables = []
    if "config" in manifest and "games" in manifest:
        from .results import suite_tables, totals_table  # imported on use, as the suite module
        from .suite import SuiteManifest

        suite = SuiteManifest.load(path)
        tables = [totals_table([suite]), *suite_tables(suite)]
    data.suites.append(SuiteData(path, manifest, tables))


READERS: list[Reader] = [
    Reader("suite", lambda p: (p / _suite_file()).is_file(), _read_suite),
    Reader("run", lambda p: (p / SUMMARY_FILE).is_file(), _read_run),
    Reader("eval", lambda p: (p / EVAL_FILE).is_file(), _read_eval),
]


def collect(path: Path) -> ReportData:
    """Everything reportable in ``path`` and its subdirectories (a run, an eval, or a suite of them)."""
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory (expected a learn run, an eval or a suite dir)")
    data = ReportData(path)
    _collect(path, data, 0)
    if not data.runs and not data.evals and not data.suites:
        raise ConfigError(
            f"no results in {path}: expected {SUMMARY_FILE} (learn run), {EVAL_FILE} (eval) or a suite"
        )
    return data


def _collect(path: Path, data: ReportData, depth: int) -> None:
    for reader in READERS:
        if reader.matches(path):
            try:
                reader.read(path, data)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a hand-edited or foreign file
                what = f"{type(exc).__name__}: {exc}"
                raise ConfigError(f"{path}: not a {reader.name} as autoharness writes it ({what})") from exc
    if depth < MAX_DEPTH:
        for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
            _collect(sub, data, depth + 1)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ConfigError(f"cannot read {path}: its JSON is nested too deeply") from None
    except (OSError, ValueError) as exc:  # ValueError: bad JSON, bad UTF-8, numbers too long to read
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(f"cannot read {path}: {reason}") from exc


# --- the paper's published figures ------------------------------------------------------------------


# --- plots -------------------------------------------------------------------------------------------


def _save(fig: Figure, path: Path) -> Path:
    """Render to memory, then write atomically: a planted symlink at ``path`` is replaced, not followed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write(path, buffer.getvalue())
    return path


def _slug(text: str) -> str:
    """A file-name part from a value of a result file: letters, digits, ``-`` and ``_`` only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60] or "run"


def _tree_positions(nodes: list[dict[str, Any]]) -> dict[int, tuple[float, float]]:
    """Leaves side by side in depth-first order, each parent centred over its children."""
    children: dict[int | None, list[int]] = {}
    for n in nodes:
        children.setdefault(n["parent"], []).append(n["id"])
    pos: dict[int, tuple[float, float]] = {}
    next_leaf = 0.0
    depth = {n["id"]: n["depth"] for n in nodes}

    def place(node: int) -> float:
        nonlocal next_leaf
        kids = children.get(node, [])
        if kids:
            xs = [place(k) for k in kids]
            x = (min(xs) + max(xs)) / 2
        else:
            x, next_leaf = next_leaf, next_leaf + 1
        pos[node] = (x, -depth[node])
        return x

    known = {n["id"] for n in nodes}
    for root in [n["id"] for n in nodes if n["parent"] is None or n["parent"] not in known]:
        place(root)
    return pos


def plot_learning(run: RunData, path: Path) -> Path:
    """H vs iteration with parent→child edges and best-so-far; beside it the search tree coloured by H."""
    nodes = run.nodes
    fig = Figure(figsize=(12, 4.2))
    ax, tree = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    order = {n["id"]: i for i, n in enumerate(nodes, start=1)}  # iteration k made the k-th code version
    by_id = {n["id"]: n for n in nodes}
    for n in nodes:
        parent = by_id.get(n["parent"])
        if parent is not None:
            ax.plot(
                [order[parent["id"]], order[n["id"]]], [parent["h"], n["h"]], color="#bbb", lw=0.8, zorder=1
            )
    best, best_so_far = -math.inf, []
    for n in nodes:
        best = max(best, n["h"])
        best_so_far.append(best)
    ax.step(
        list(order.values()), best_so_far, where="post", color=OURS[0], lw=2, label="best so far", zorder=2
    )
    sc = ax.scatter(
        list(order.values()),
        [n["h"] for n in nodes],
        c=[n["h"] for n in nodes],
        cmap="RdYlGn",
        vmin=0,
        vmax=1,
        edgecolor="#333",
        s=36,
        zorder=3,
        label="code version (H)",
    )
    best_node = run.summary.get("best_node")
    if best_node in order:
        ax.scatter(
            [order[best_node]],
            [by_id[best_node]["h"]],
            marker="*",
            s=260,
            color="gold",
            edgecolor="black",
            zorder=4,
            label=f"best node #{best_node}",
        )
    ax.set(
        xlabel="iteration (code versions in creation order)",
        ylabel="H (0 if illegal, else 0.5 + 0.5·reward)"
        if run.summary.get("mode") == "policy"
        else "H (legal-action rate)",
        ylim=(-0.03, 1.05),
        xlim=(0.5, len(nodes) + 0.5),  # whole iterations, also for a one-node run
        title=f"{run.summary.get('game', run.path.name)}: learning",
    )
    if len(nodes) <= 20:
        ax.set_xticks(range(1, len(nodes) + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    pos = _tree_positions(nodes)
    for n in nodes:
        if n["parent"] in pos:
            (x0, y0), (x1, y1) = pos[n["parent"]], pos[n["id"]]
            tree.plot([x0, x1], [y0, y1], color="#999", lw=1, zorder=1)
    tree.scatter(
        [pos[n["id"]][0] for n in nodes],
        [pos[n["id"]][1] for n in nodes],
        c=[n["h"] for n in nodes],
        cmap="RdYlGn",
        vmin=0,
        vmax=1,
        s=120,
        edgecolor="#333",
        zorder=2,
    )
    for n in nodes:
        x, y = pos[n["id"]]
        tree.annotate(str(n["id"]), (x, y), ha="center", va="center", fontsize=6, zorder=3)
    if best_node in pos:
        tree.scatter(*pos[best_node], marker="*", s=300, color="gold", edgecolor="black", zorder=4)
    tree.set(title="search tree (depth ↓, colour = H)", xticks=[], ylabel="depth")
    tree.set_yticks(
        sorted({y for _, y in pos.values()}), [str(int(-y)) for y in sorted({y for _, y in pos.values()})]
    )
    fig.colorbar(sc, ax=tree, fraction=0.05, label="H")
    return _save(fig, path)


def plot_wdl(results: list[dict[str, Any]], path: Path) -> Path:
    """Stacked win/draw/loss bars, one row per (game, agent vs opponent); wins and losses by forfeit (an
    illegal move ended the match) are hatched segments of their own, so they never pass for play."""
    rows = [r for r in results if r["num_players"] == 2 and r["matches"]]
    fig = Figure(figsize=(10, 0.55 * len(rows) + 1.4))
    ax = fig.subplots()
    labels = [f"{r['game']}\n{r['agent']} vs {r['opponent']}" for r in rows]
    left = [0.0] * len(rows)
    segments = (
        (lambda r: r["wins"] - r.get("wins_by_forfeit", 0), WIN, "", "win"),
        (lambda r: r.get("wins_by_forfeit", 0), WIN, "//", "win by opponent's forfeit"),
        (lambda r: r["draws"], DRAW, "", "draw"),
        (lambda r: r.get("losses_by_forfeit", 0), LOSS, "//", "loss by own forfeit"),
        (lambda r: r["losses"] - r.get("losses_by_forfeit", 0), LOSS, "", "loss"),
        (lambda r: r.get("dead_positions", 0), DRAW, "xx", "no result: no legal move existed"),
    )
    for count_of, colour, hatch, name in segments:
        counts = [count_of(r) for r in rows]
        if hatch and not any(counts):
            continue
        widths = [c / r["matches"] for c, r in zip(counts, rows, strict=True)]
        bars = ax.barh(
            labels, widths, left=left, color=colour, label=name, edgecolor="white", hatch=hatch or None
        )
        for bar, w, count in zip(bars, widths, counts, strict=True):
            if w >= 0.06:
                ax.text(
                    bar.get_x() + w / 2,
                    bar.get_y() + bar.get_height() / 2,
                    str(count),
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=8,
                    fontweight="bold",
                )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set(xlim=(0, 1), xlabel="share of matches (counts on the bars; hatched: by forfeit, or no result)")
    ax.set_title("Win / draw / loss per game", loc="left")
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return _save(fig, path)


def plot_vs_paper(results: list[dict[str, Any]], path: Path) -> Path:
    """Mean reward and legal rate per 1-player game: our agents beside the paper's six published columns."""
    rows = [r for r in results if r["num_players"] == 1 and r["matches"]]
    games = list(dict.fromkeys(r["game"] for r in rows))
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    reward, legal = paper_table("reward_1p"), paper_table("legal_rate_1p")
    fig = Figure(figsize=(max(7.0, 2.2 * len(games) + 3), 7.5))
    axes = fig.subplots(2, 1, sharex=True)
    width = 0.8 / (len(agents) + len(PAPER_COLUMNS))
    colours = _agent_colours(results)
    for ax, key, table, title in (
        (axes[0], "mean_reward", reward, "mean reward (normalised to [0, 1])"),
        (axes[1], "legal_rate", legal, "legal-action rate"),
    ):
        for j, agent in enumerate(agents):
            vals = [
                next((r[key] for r in rows if r["game"] == g and r["agent"] == agent), None) for g in games
            ]
            xs = [i - 0.4 + width * (j + 0.5) for i in range(len(games))]
            ax.bar(xs, [v or 0 for v in vals], width, color=colours[agent], label=f"ours: {agent}")
        for k, (column, label) in enumerate(PAPER_COLUMNS.items()):
            j = len(agents) + k
            xs = [i - 0.4 + width * (j + 0.5) for i in range(len(games))]
            vals = [float(table[g][column]) if g in table else 0.0 for g in games]
            ax.bar(
                xs, vals, width, color=PAPER_GREYS[k], hatch="//", edgecolor="white", label=f"paper: {label}"
            )
        ax.set(ylim=(0, 1.05), ylabel=title)
        ax.grid(axis="y", alpha=0.3)
    missing = [g for g in games if g not in reward]
    axes[1].set_xticks(range(len(games)), [g + (" (no paper row)" if g in missing else "") for g in games])
    axes[0].set_title("1-player games: ours beside the paper's published results (hatched)")
    axes[0].legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def _agent_colours(rows: list[dict[str, Any]]) -> dict[str, str]:
    """One colour per agent spec, the same in every plot of the page."""
    agents = dict.fromkeys(r["agent"] for r in rows)
    return {a: OURS[i % len(OURS)] for i, a in enumerate(agents)}


def performance(result: dict[str, Any]) -> float:
    """One number per result: mean reward (1P) or score = win rate + ½ draw rate (2P)."""
    if result["num_players"] == 1:
        return result["mean_reward"] or 0.0
    return (result["win_rate"] or 0.0) + 0.5 * (result["draw_rate"] or 0.0)


def plot_cost(data: ReportData, path: Path) -> Path:
    """Evaluation: cost per match vs performance. Learning: LLM calls vs legal rate, beside the paper."""
    panels = [p for p in ("eval", "learn") if (p == "eval" and data.results) or (p == "learn" and data.runs)]
    fig = Figure(figsize=(6 * len(panels), 4.4))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "eval":
            rows = [r for r in data.results if r["matches"]]
            use_cost = any(r["cost_usd"] for r in rows)
            xs = [(r["cost_usd"] if use_cost else r["llm_calls"]) / r["matches"] for r in rows]
            colours = _agent_colours(data.results)
            for x, r in zip(xs, rows, strict=True):
                ax.scatter(x, performance(r), s=70, color=colours[r["agent"]], edgecolor="#333", zorder=3)
                right = x > 0.55 * (max(xs) or 1.0)  # labels of the costliest agents go left of the dot
                ax.annotate(
                    f"{r['agent']} ({r['game']})",
                    (x, performance(r)),
                    textcoords="offset points",
                    xytext=(-6, 4) if right else (6, 4),
                    ha="right" if right else "left",
                    fontsize=7,
                )
            ax.set(
                xlabel="cost per match (USD)" if use_cost else "LLM calls per match (no prices known)",
                ylabel="performance (1P: mean reward · 2P: win + ½ draw)",
                ylim=(-0.05, 1.08),
                title="evaluation: cost vs performance",
            )
            high = max(xs) or 1.0
            ax.set_xlim(-0.05 * high, 1.15 * high)  # no negative axis when every agent is free
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
        else:
            for j, run in enumerate(data.runs):
                s = run.summary
                ax.scatter(
                    s.get("llm_calls", 0),
                    s.get("legal_rate", 0),
                    s=80,
                    color=OURS[j % len(OURS)],
                    edgecolor="#333",
                    zorder=3,
                    label=f"ours: {s.get('game')}",
                )
                paper = paper_learning(s.get("game", ""), s.get("mode"))
                if paper:
                    ax.scatter(
                        paper.llm_calls,
                        paper.legal_rate,
                        s=80,
                        marker="s",
                        color=PAPER_GREYS[3],
                        edgecolor="#333",
                        zorder=2,
                        label=f"paper: {s.get('game')}",
                    )
            ax.set(
                xlabel="LLM calls to learn the harness",
                ylabel="legal-action rate reached",
                ylim=(-0.05, 1.08),
                title="learning: LLM calls vs legal rate",
            )
            ax.set_xlim(0, ax.get_xlim()[1] * 1.1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return _save(fig, path)


# --- HTML --------------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1180px;
color:#222;padding:0 1rem;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #1565c0;padding-bottom:.2rem;margin-top:2.2rem}
.meta{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.84rem;width:100%}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:right}
th{background:#f3f6fb}td{white-space:nowrap}td.l,th.l{text-align:left;white-space:normal}
td:first-child{white-space:nowrap}
tr:nth-child(even) td{background:#fafafa}
td.paper{color:#6d4c41;background:#fbf7f4}
.wide{overflow-x:auto}.suite table{font-size:.76rem}td.l{min-width:5rem;max-width:24rem}
img{max-width:100%;border:1px solid #eee;margin:.6rem 0}
.warn{color:#c62828}.note{color:#555;font-size:.85rem}
code{background:#f3f3f3;padding:0 .25rem}
"""


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[str]], paper_cols: frozenset[int] = frozenset()) -> str:
    """Columns of numbers align right, columns of words (game, agent, model) left; paper columns shaded."""
    words = {i for r in rows for i, c in enumerate(r) if not _NUMERIC.match(c)}

    def attrs(i: int) -> str:
        classes = " ".join(["paper"] * (i in paper_cols) + ["l"] * (i in words))
        return f' class="{classes}"' if classes else ""

    head = "".join(
        f"<th{attrs(i) if i in words else ''}>{html.escape(h)}</th>" for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>" + "".join(f"<td{attrs(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows
    )
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


_NUMERIC = re.compile(r"^[-+]?[\d.,]+$|^—$|^\d+ / \d+ / \d+$")


def _suite_section(suite: SuiteData) -> str:
    """The reproduction tables (``autoharness.results``), then the suite's own table (one row per game,
    every column of suite.json; ``paper_*`` columns shaded) and its totals."""
    rows = suite.manifest.get("table") or []
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_fmt(_plain(row.get(c))) for c in columns] for row in rows]
    paper = frozenset(i for i, c in enumerate(columns) if c.startswith("paper_"))
    totals = suite.manifest.get("totals") or {}
    summary = " · ".join(f"{html.escape(str(k))} {_fmt(_plain(v))}" for k, v in totals.items())
    raw = [
        f'<p class="note">{summary}</p>' if summary else "",
        f'<div class="suite">{_table([c.replace("_", " ") for c in columns], cells, paper)}</div>'
        if rows
        else "<p>No games yet.</p>",
    ]
    if suite.tables:
        raw = ["<details><summary>Every column of suite.json</summary>", *raw, "</details>"]
    return "\n".join(
        [
            f"<h2>Suite <code>{html.escape(str(suite.path))}</code></h2>",
            *(_results_table(t) for t in suite.tables),
            *raw,
        ]
    )


def _results_table(table: Any) -> str:
    """One reproduction table (``autoharness.results.Table``, the same as in docs/results.md) as HTML."""

    def text(value: str) -> str:
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(value))

    body = _table(table.columns, [[text(c) for c in row] for row in table.rows], table.paper)
    notes = "".join(f'<p class="note">{text(n)}</p>' for n in table.notes)
    return f'<h3>{text(table.heading)}</h3><div class="suite">{body}</div>{notes}'


def _plain(value: Any) -> Any:
    """Lists and dicts in a table cell as compact JSON; scalars as they are."""
    return json.dumps(value, separators=(",", ":")) if isinstance(value, list | dict) else value


def _runs_section(data: ReportData, images: dict[str, str]) -> str:
    rows = []
    for run in data.runs:
        s = run.summary
        paper = paper_learning(s.get("game", ""), s.get("mode"))  # verifier runs only: like with like
        rows.append(
            [
                _fmt(s.get("game")),
                _fmt(s.get("mode")),
                _fmt(model_label(str(s.get("model", "—")), s.get("answered_by") or [])),
                _fmt(s.get("legal_rate")),
                _fmt(s.get("dead_positions")),
                _fmt(s.get("iterations")),
                _fmt(s.get("llm_calls")),
                _fmt(s.get("tokens")),
                _fmt(s.get("cost_usd"), 4),
                _fmt(s.get("best_node")),
                _fmt(s.get("stop_reason")),
                _fmt(verdict(s.get("verification"))),
                _fmt(paper.llm_calls if paper else None),
                _fmt(paper.legal_rate if paper else None),
            ]
        )
    parts = [
        "<h2>Learning runs</h2>",
        _table(
            [
                "game",
                "mode",
                "model",
                "legal rate",
                "dead positions",
                "iterations",
                "LLM calls",
                "tokens",
                "cost USD",
                "best node",
                "stopped",
                "verified (held-out positions)",
                "paper: LLM calls",
                "paper: legal rate",
            ],
            rows,
            frozenset({11, 12}),
        ),
        '<p class="note">The paper\'s learning figures were measured learning verifier harnesses: they are'
        " shown beside verifier runs only (the paper published no per-game filter or policy learning"
        " figures).</p>",
        '<p class="note">dead positions: training games of the best harness that reached a position where the'
        " player to move had no legal move at all (a defect of the game); they end there and are not counted"
        " against the harness.</p>",
    ]
    for run in data.runs:
        key = f"learning:{run.path}"
        if key in images:
            parts.append(
                f'<img src="{_fmt(images[key])}" '
                f'alt="learning curve and search tree of {_fmt(run.path.name)}">'
            )
    return "\n".join(parts)


def _evals_section(data: ReportData, images: dict[str, str]) -> str:
    parts = ["<h2>Evaluations</h2>"]
    one = [r for r in data.results if r["num_players"] == 1]
    two = [r for r in data.results if r["num_players"] == 2]
    if one:
        rows = []
        for r in one:
            paper = paper_agent(r["game"], r["agent"])  # the paper's agent of the same kind, if any
            rows.append(
                [
                    _fmt(r["game"]),
                    _fmt(model_label(r["agent"], r.get("provenance") or [])),
                    _fmt(r["matches"]),
                    _fmt(r["mean_reward"]),
                    _fmt(r["legal_rate"]),
                    _fmt(PAPER_COLUMNS[paper.column] if paper else None),
                    _fmt(paper.reward if paper else None),
                    _fmt(paper.legal_rate if paper else None),
                    *_cost_cells(r),
                    _fmt(r["source"]),
                ]
            )
        parts += [
            "<h3>1-player games (mean reward over matches)</h3>",
            _table(
                [
                    "game",
                    "agent",
                    "matches",
                    "mean reward",
                    "legal rate",
                    "paper: same kind of agent",
                    "paper: reward",
                    "paper: legal rate",
                    *COST_HEADERS,
                    "eval dir",
                ],
                rows,
                frozenset({5, 6, 7}),
            ),
        ]
    if two:
        rows = [
            [
                _fmt(r["game"]),
                _fmt(model_label(r["agent"], r.get("provenance") or [])),
                _fmt(r["opponent"]),
                _fmt(r["matches"]),
                _fmt(wdl_text(r)),
                _fmt(performance(r)),
                _fmt(r["legal_rate"]),
                _fmt(r["opponent_legal_rate"]),
                *_cost_cells(r),
                _fmt(r["source"]),
            ]
            for r in two
        ]
        parts += [
            "<h3>2-player games (seats split evenly)</h3>",
            f"<p>W / D / L: {html.escape(FORFEIT_NOTE)}.</p>",
            _table(
                [
                    "game",
                    "agent",
                    "opponent",
                    "matches",
                    "W / D / L",
                    "score",
                    "legal rate",
                    "opp. legal rate",
                    *COST_HEADERS,
                    "eval dir",
                ],
                rows,
            ),
        ]
    for key, alt in (("vs_paper", "rewards beside the paper"), ("wdl", "win/draw/loss bars")):
        if key in images:
            parts.append(f'<img src="{_fmt(images[key])}" alt="{alt}">')
    aborted = [r for r in data.results if r.get("aborted")]
    for r in aborted:
        parts.append(
            f'<p class="warn">{_fmt(r["game"])} / {_fmt(r["agent"])} stopped early: {_fmt(r["aborted"])}'
            f" ({_fmt(r['matches'])} matches kept)</p>"
        )
    seeds = sorted({s for r in data.results for s in r["seeds"]})
    provenance = sorted({p for r in data.results for p in r.get("provenance", [])})
    if seeds:
        parts.append(
            f'<p class="note">Match seeds {seeds[0]}–{seeds[-1]} (training seeds are all below'
            " 1,000,000).</p>"
        )
    if provenance:
        items = "".join(f"<li><code>{html.escape(p)}</code></li>" for p in provenance)
        parts.append(f'<p class="note">Where the LLM replies came from:</p><ul class="note">{items}</ul>')
    items = "".join(f"<li>{_eval_source(e)}</li>" for e in data.evals)
    parts.append(f'<p class="note">Evaluations read:</p><ul class="note">{items}</ul>')
    return "\n".join(parts)


def _eval_source(e: EvalData) -> str:
    """Where an eval came from: its directory, when, and which harness (path and hash prefix)."""
    harness = e.payload.get("harness") or {}
    used = (
        f" · harness <code>{_fmt(harness.get('path'))}</code> (sha256 {_fmt(harness['sha256'][:12])})"
        if harness.get("sha256")
        else " · no harness"
    )
    return f"<code>{html.escape(str(e.path))}</code> · {_fmt(e.payload.get('created'))}{used}"


COST_HEADERS = ("LLM calls", "tokens", "cost USD", "caught", "fallbacks", "harness failures")
"""Column names of ``_cost_cells``, in its order."""


def _cost_cells(r: dict[str, Any]) -> list[str]:
    return [
        _fmt(r["llm_calls"]),
        _fmt(r["tokens"]),
        _fmt(r["cost_usd"], 4),
        _fmt(r["caught"]),
        _fmt(r["fallback_moves"]),
        _fmt(r["harness_failures"]),
    ]


def write_report(source: str | Path, out: str | Path | None = None) -> Path:
    """Collect results under ``source``, draw the plots and write the page; returns the page's path."""
    source = Path(source)
    data = collect(source)
    out = Path(out) if out is not None else source / "report.html"
    if out.is_dir() and not out.is_symlink():
        raise ConfigError(f"--out {out} is a directory: name the HTML file, e.g. {out / 'report.html'}")
    assets = out.parent / f"{out.stem}_files"
    if assets.is_symlink() or (assets.exists() and not assets.is_dir()):
        raise ConfigError(f"{assets} is a link or a file, not a directory: not writing the plots through it")
    try:
        assets.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {assets}: {exc.strerror}") from exc
    images: dict[str, str] = {}

    def add(key: str, name: str, draw: Callable[[Path], Path]) -> None:
        images[key] = f"{assets.name}/{draw(assets / name).name}"

    for i, run in enumerate(data.runs):
        if run.nodes:
            add(
                f"learning:{run.path}",
                f"learning_{i}_{_slug(run.summary['game'])}.png",
                lambda p, run=run: plot_learning(run, p),
            )
    if any(r["num_players"] == 1 and r["matches"] for r in data.results):
        add("vs_paper", "reward_vs_paper.png", lambda p: plot_vs_paper(data.results, p))
    if any(r["num_players"] == 2 and r["matches"] for r in data.results):
        add("wdl", "wdl.png", lambda p: plot_wdl(data.results, p))
    if data.runs or data.results:
        add("cost", "cost_vs_performance.png", lambda p: plot_cost(data, p))
    body = [
        "<h1>autoharness report</h1>",
        f'<p class="meta">Source <code>{html.escape(str(source))}</code> · {len(data.suites)} suite(s), '
        f"{len(data.runs)} learning run(s), {len(data.results)} evaluation result(s) · "
        f"written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>",
    ]
    body += [_suite_section(suite) for suite in data.suites]
    if data.runs:
        body.append(_runs_section(data, images))
    if data.results:
        body.append(_evals_section(data, images))
    if "cost" in images:
        body += [
            "<h2>Cost vs performance</h2>",
            f'<img src="{_fmt(images["cost"])}" alt="cost versus performance">',
        ]
    body += [
        '<p class="note">Paper columns (shaded, hatched in plots) are the published figures of Lou et al.,'
        " “AutoHarness: improving LLM agents by automatically synthesizing a code harness” (Google DeepMind,"
        " arXiv 2603.03329, 2026), bundled as reference values — not outputs of this tool.</p>",
    ]
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>autoharness report: {html.escape(source.name)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    atomic_write(out, page)  # replaces a planted symlink at ``out`` rather than writing through it
    return out


__all__ = [
    "READERS",
    "EvalData",
    "Reader",
    "ReportData",
    "RunData",
    "SuiteData",
    "collect",
    "write_report",
]
