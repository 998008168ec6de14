"""Refiner: build the prompts that write and repair a harness, and turn replies into code.

Prompt templates are files under ``learn/prompts/<version>/`` (``string.Template``, ``$name`` fields, so
braces in code need no escaping). A template is never edited in place: a change is a new version
directory, and every run records the version and the templates' SHA-256 so a transcript can be matched to
the exact prompts that produced it.

Conditional refinement is enforced, not just asked for: after a ``proposer``-only refinement the parent's
``is_legal_action`` — and every top-level definition it uses, transitively — is spliced back into the
child's code byte for byte (``splice_checker``), whatever the model wrote.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from ..errors import ConfigError
from ..llm.base import Message
from ..llm.extract import extract_code
from ..sandbox.contract import REQUIRED_FUNCTIONS
from .critic import PROPOSER, Feedback

PROMPT_VERSION = "v1"
CHECKER = "is_legal_action"


@dataclass(frozen=True, slots=True)
class Prompts:
    """One version of the prompt templates."""

    version: str
    texts: dict[str, str]

    @property
    def digests(self) -> dict[str, str]:
        return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(self.texts.items())}

    def render(self, name: str, **fields: str) -> str:
        return Template(self.texts[name]).substitute(fields).strip()


@cache
def load_prompts(version: str = PROMPT_VERSION) -> Prompts:
    folder = resources.files("autoharness.learn").joinpath("prompts", version)
    if not folder.is_dir():
        raise ConfigError(f"unknown prompt version {version!r}")
    texts = {
        f.name.removesuffix(".md"): f.read_text(encoding="utf-8")
        for f in folder.iterdir()
        if f.name.endswith(".md")
    }
    return Prompts(version, texts)


def initial_messages(prompts: Prompts, game: str, observation: str, mode: str) -> list[Message]:
    """The "write the harness" prompt that creates the root node."""
    user = prompts.render(
        "initial",
        game=game,
        observation=observation.strip(),
        contract=prompts.render(f"contract_{mode}"),
    )
    return [{"role": "system", "content": prompts.render("system")}, {"role": "user", "content": user}]


def refine_messages(
    prompts: Prompts, game: str, observation: str, mode: str, code: str, feedback: Feedback
) -> list[Message]:
    """Rules + current code + feedback, with the instruction matching the refinement kind."""
    instruction = "instruction_improve" if feedback.failures == 0 else f"instruction_{feedback.kind}"
    user = prompts.render(
        "refine",
        game=game,
        observation=observation.strip(),
        contract=prompts.render(f"contract_{mode}"),
        code=code.strip(),
        feedback=feedback.text,
        instruction=prompts.render(instruction),
    )
    return [{"role": "system", "content": prompts.render("system")}, {"role": "user", "content": user}]


def child_code(reply: str, mode: str, kind: str, parent_code: str | None) -> str:
    """The code a reply contributes; ``BadReply`` (its message is feedback for the model) if none."""
    code = extract_code(reply, tuple(REQUIRED_FUNCTIONS[mode]))
    if kind == PROPOSER and parent_code is not None:
        code = splice_checker(parent_code, code)
    return code


# --- keeping the checker byte-identical ------------------------------------------------------------


def _defines(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _uses(stmt: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _segment(lines: list[str], stmt: ast.stmt) -> str:
    """The statement's exact source lines, decorators included."""
    decorators = getattr(stmt, "decorator_list", [])
    start = min([stmt.lineno, *(d.lineno for d in decorators)])
    return "".join(lines[start - 1 : stmt.end_lineno])


def _checker_closure(tree: ast.Module) -> list[ast.stmt]:
    """Top-level statements that ``is_legal_action`` needs, transitively, in source order."""
    by_name: dict[str, list[ast.stmt]] = {}
    for stmt in tree.body:
        for name in _defines(stmt):
            by_name.setdefault(name, []).append(stmt)
    keep: dict[int, ast.stmt] = {}
    todo = [CHECKER]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for stmt in by_name.get(name, []):
            if id(stmt) not in keep:
                keep[id(stmt)] = stmt
                todo.extend(_uses(stmt))
    return sorted(keep.values(), key=lambda s: s.lineno)


def splice_checker(parent: str, child: str) -> str:
    """``child`` with the parent's ``is_legal_action`` and its dependencies restored verbatim.

    Child statements that define only those names are dropped (imports are kept: re-importing is
    harmless); a statement that also defines other names (``A, B = 2, 3``) is kept, since the child's code
    may need the others. The parent's statements go where the child's first dropped one was, but never
    before a kept statement that rebinds one of their names (the parent's must win), else at the end.
    """
    parent_tree = ast.parse(parent)
    keep = _checker_closure(parent_tree)
    if not keep:
        return child
    parent_lines = parent.splitlines(keepends=True)
    block = "".join(_segment(parent_lines, s).rstrip("\n") + "\n\n\n" for s in keep).rstrip("\n") + "\n"
    names = set().union(*(_defines(s) for s in keep))
    child_lines = child.splitlines(keepends=True)
    body = ast.parse(child).body
    shared = [set() if isinstance(st, ast.Import | ast.ImportFrom) else _defines(st) & names for st in body]
    dropped = [bool(common) and common == _defines(st) for common, st in zip(shared, body, strict=True)]
    # just after the last kept statement that rebinds a checker name, or 0
    after_rebinds = max((i + 1 for i, common in enumerate(shared) if common and not dropped[i]), default=0)
    first_drop = next((i for i, d in enumerate(dropped) if d and i >= after_rebinds), None)
    place_at = first_drop if first_drop is not None else after_rebinds or len(body)
    out: list[str] = []
    cursor = 0
    for i, stmt in enumerate(body):
        start = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))]) - 1
        out.extend(child_lines[cursor:start])
        cursor = stmt.end_lineno or start
        if i == place_at:
            out.append(block)
        if not dropped[i]:
            out.extend(child_lines[start:cursor])
    out.extend(child_lines[cursor:])
    text = "".join(out).rstrip("\n") + "\n"
    if place_at == len(body):
        text += "\n\n" + block
    return text


__all__ = [
    "CHECKER",
    "PROMPT_VERSION",
    "Prompts",
    "child_code",
    "initial_messages",
    "load_prompts",
    "refine_messages",
    "splice_checker",
]
