"""Refiner: prompt construction from versioned templates, reply → code, conditional refinement splicing."""

from __future__ import annotations

import ast

import pytest

from autoharness.errors import BadReply
from autoharness.learn.critic import BOTH, PROPOSER, Feedback
from autoharness.learn.refiner import (
    PROMPT_VERSION,
    child_code,
    initial_messages,
    load_prompts,
    refine_messages,
    splice_checker,
)

PARENT = """import re

CELLS = range(9)
UNUSED = 3


def _cells(obs):
    return re.findall(r"\\| *([XO ]) *", obs)


@staticmethod
def _decorated():
    return 1


def is_legal_action(obs: str, action: str) -> bool:
    m = re.fullmatch(r"\\[(\\d)\\]", action.strip())
    return bool(m) and int(m.group(1)) in CELLS and _decorated() == 1


def propose_action(obs: str) -> str:
    return "[0]"
"""

CHILD_REPLY = """Here is the fix; I also "improved" the checker.

```python
import random

CELLS = range(3)


def _cells(obs):
    return obs.split()


def is_legal_action(obs, action):
    return True


def propose_action(obs):
    free = [i for i in CELLS if str(i) in obs]
    return f"[{random.choice(free)}]"
```
"""


def _function_source(code: str, name: str) -> str:
    tree = ast.parse(code)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(code, node) or ""


def test_proposer_refinement_keeps_checker_and_its_helpers_byte_identical():
    code = child_code(CHILD_REPLY, "verifier", PROPOSER, PARENT)
    assert _function_source(code, "is_legal_action") == _function_source(PARENT, "is_legal_action")
    assert "CELLS = range(9)" in code and "CELLS = range(3)" not in code
    assert "@staticmethod\ndef _decorated():" in code
    assert "random.choice(free)" in code  # the new proposer is kept
    assert "UNUSED" not in code  # what the checker does not use is not dragged along
    compile(code, "<harness>", "exec")  # the spliced module is valid Python


def test_both_refinement_takes_the_reply_as_is():
    code = child_code(CHILD_REPLY, "verifier", BOTH, PARENT)
    assert "return True" in _function_source(code, "is_legal_action")


def test_splice_appends_checker_when_reply_drops_it():
    child = "def propose_action(obs):\n    return '[1]'\n"
    out = splice_checker(PARENT, child)
    assert _function_source(out, "is_legal_action") == _function_source(PARENT, "is_legal_action")
    assert _function_source(out, "propose_action") == "def propose_action(obs):\n    return '[1]'"


def test_reply_without_required_functions_is_a_bad_reply():
    with pytest.raises(BadReply, match="is_legal_action"):
        child_code("```python\ndef propose_action(obs):\n    return '[0]'\n```", "verifier", BOTH, None)
    with pytest.raises(BadReply):
        child_code("I cannot help with that.", "policy", BOTH, None)
    with pytest.raises(BadReply, match="legal_actions"):
        child_code(CHILD_REPLY, "filter", BOTH, None)


def test_prompts_are_versioned_and_rendered_without_leftover_fields():
    prompts = load_prompts()
    assert prompts.version == PROMPT_VERSION
    assert set(prompts.digests) >= {
        "system",
        "initial",
        "refine",
        "contract_verifier",
        "instruction_proposer",
    }
    msgs = initial_messages(prompts, "TicTacToe-v0", "OPENING OBSERVATION", "filter")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert (
        "OPENING OBSERVATION" in msgs[1]["content"]
        and "def legal_actions(obs: str) -> list[str]" in msgs[1]["content"]
    )
    fb = Feedback("the checker said True for [9]", PROPOSER, 1)
    msgs = refine_messages(prompts, "TicTacToe-v0", "RULES", "verifier", "def f(): {x}", fb)
    text = msgs[1]["content"]
    assert "def f(): {x}" in text and "the checker said True for [9]" in text
    assert "Rewrite only propose_action" in text and "$" not in text
    improve = refine_messages(prompts, "G", "R", "policy", "code", Feedback("won 2 of 10", BOTH, 0))
    assert "Improve the harness" in improve[1]["content"]


def test_splice_keeps_a_child_statement_that_also_defines_other_names() -> None:
    checker = "def is_legal_action(obs, action):\n    return {}\n\n"
    parent = "A = 1\n\n" + checker.format("A == 1") + "def propose_action(obs):\n    return 'x'\n"
    child = "A, B = 2, 3\n\n" + checker.format("True") + "def propose_action(obs):\n    return str(B)\n"
    spliced = splice_checker(parent, child)
    namespace: dict[str, object] = {}
    exec(compile(spliced, "<spliced test code>", "exec"), namespace)  # test-authored code, not a model's
    assert namespace["propose_action"]("obs") == "3"  # B survived
    assert namespace["A"] == 1 and namespace["is_legal_action"]("obs", "a") is True  # the parent's A wins
    assert "return A == 1" in spliced and "return True" not in spliced
