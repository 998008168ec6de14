"""The harness contract, and a static check of it that produces feedback for the LLM.

Every harness is Python source defining, at module level:

* ``propose_action(obs: str) -> str`` — a candidate action (in policy mode: the move played);
* ``is_legal_action(obs: str, action: str) -> bool`` — True only if the rules allow ``action``;
* filter mode also ``legal_actions(obs: str) -> list[str]`` — every legal action.

Return values must be plain ``str`` / ``bool`` / ``list[str]`` (not numpy scalars, not subclasses). An action
is at most ``MAX_ACTION_CHARS`` characters and a list at most ``MAX_LISTED_ACTIONS`` actions; more is an
``oversized`` failure (the game and the learner never see it). SysV IPC is refused. Only the
standard library and numpy are available. One contract family for all three modes: a filter-mode harness
works in verifier and policy mode too.

``check_source`` is *not* the security boundary (the sandbox is): it parses the source and reports what would
fail at load time, so the refiner can fix it before a rollout is spent on it.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from typing import Literal, get_args

Mode = Literal["verifier", "filter", "policy"]
MODES: tuple[str, ...] = get_args(Mode)

MAX_SOURCE_CHARS = 500_000

MAX_ACTION_CHARS = 1_000
"""Longest action a harness may return: no game's move is near it, and everything the parent does with an
action (the game's own parsing, exploration's variants, the critic's text) stays cheap below it."""

MAX_LISTED_ACTIONS = 1_000
"""Longest list ``legal_actions`` may return (filter mode probes each listed move on a clone of the game)."""

REQUIRED_FUNCTIONS: dict[str, dict[str, int]] = {
    "policy": {"propose_action": 1, "is_legal_action": 2},
    "verifier": {"propose_action": 1, "is_legal_action": 2},
    "filter": {"propose_action": 1, "is_legal_action": 2, "legal_actions": 1},
}
"""Function name → number of positional arguments, per mode (mirrored inside the sandbox worker)."""

ALLOWED_THIRD_PARTY = frozenset({"numpy"})


@dataclass(frozen=True, slots=True)
class StaticIssue:
    """One problem found without running the code. ``kind``: syntax_error, missing_function, wrong_arity,
    disallowed_import, too_large."""

    kind: str
    message: str
    line: int | None = None

    def describe(self) -> str:
        at = f"line {self.line}: " if self.line else ""
        return f"{at}{self.message}"


def _accepts(args: ast.arguments, n: int) -> bool:
    """Whether a ``def`` with these parameters can be called with ``n`` positional arguments."""
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    kw_required = sum(1 for d in args.kw_defaults if d is None)
    return kw_required == 0 and required <= n and (n <= positional or args.vararg is not None)


def _import_issues(tree: ast.Module) -> list[StaticIssue]:
    allowed = set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY
    issues = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in allowed:
                msg = f"imports {name!r}: only the standard library and numpy are available"
                issues.append(StaticIssue("disallowed_import", msg, node.lineno))
    return issues


def check_source(source: str, mode: Mode) -> list[StaticIssue]:
    """Everything wrong with ``source`` for ``mode`` that can be seen without running it (empty: fine)."""
    if len(source) > MAX_SOURCE_CHARS:
        return [StaticIssue("too_large", f"source is {len(source)} characters (limit {MAX_SOURCE_CHARS})")]
    try:
        tree = ast.parse(source, "<harness>")
    except SyntaxError as exc:
        return [StaticIssue("syntax_error", f"syntax error: {exc.msg}", exc.lineno)]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [StaticIssue("syntax_error", f"cannot parse: {type(exc).__name__}: {exc}")]
    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef | None] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defs[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    defs.setdefault(target.id, None)  # bound some other way: arity unknown
        elif isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                defs.setdefault(alias.asname or alias.name, None)
    issues: list[StaticIssue] = []
    for name, arity in REQUIRED_FUNCTIONS[mode].items():
        if name not in defs:
            issues.append(StaticIssue("missing_function", f"{mode} mode needs a top-level function {name}"))
            continue
        node = defs[name]
        if isinstance(node, ast.AsyncFunctionDef):
            issues.append(StaticIssue("wrong_arity", f"{name} must be a plain def, not async", node.lineno))
        elif node is not None and not _accepts(node.args, arity):
            plural = "s" if arity > 1 else ""
            msg = f"{name} must accept exactly {arity} positional argument{plural}"
            issues.append(StaticIssue("wrong_arity", msg, node.lineno))
    return issues + _import_issues(tree)


__all__ = [
    "MAX_ACTION_CHARS",
    "MAX_LISTED_ACTIONS",
    "MODES",
    "REQUIRED_FUNCTIONS",
    "Mode",
    "StaticIssue",
    "check_source",
]
