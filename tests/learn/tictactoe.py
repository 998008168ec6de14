"""Harness replies for TicTacToe-v0 that a scripted LLM gives in the learning tests (fenced, as models do)."""

from __future__ import annotations

_FREE = """import re


def _free(obs):
    part = obs.rsplit("Current Board:", 1)[-1]
    rows = [line for line in part.splitlines() if "|" in line][:3]
    return [c.strip() for row in rows for c in row.split("|") if c.strip().isdigit()]
"""

CORRECT_CHECKER = """

def is_legal_action(obs, action):
    m = re.fullmatch(r"\\s*\\[(\\d)\\]\\s*", action)
    return bool(m) and m.group(1) in _free(obs)
"""

FIRST_FREE = """

def propose_action(obs):
    free = _free(obs)
    return f"[{free[0]}]" if free else "[0]"
"""


def reply(code: str) -> str:
    return f"Here is the harness.\n\n```python\n{code.strip()}\n```\n"


GOOD = reply(_FREE + CORRECT_CHECKER + FIRST_FREE)
"""Correct checker, proposer plays the first free cell: legal rate 1.0."""

LAX = reply("""
def is_legal_action(obs, action):
    return True


def propose_action(obs):
    return "[4]"
""")
"""Checker accepts everything, proposer always plays the centre: CHECKER_WRONG on the second move."""

STUCK_PROPOSER = reply(
    _FREE
    + CORRECT_CHECKER
    + """

def propose_action(obs):
    return "[4]"
"""
)
"""Correct checker, proposer always plays the centre: PROPOSER_WRONG (only the proposer needs fixing)."""

LAX_CHECKER_GOOD_PROPOSER = reply(
    _FREE
    + FIRST_FREE
    + """

def is_legal_action(obs, action):
    return True
"""
)
"""What a model might answer to a proposer-only request: a fixed proposer and a broken checker."""

STRICT = reply(
    _FREE
    + FIRST_FREE
    + """

def is_legal_action(obs, action):
    m = re.fullmatch(r"\\s*\\[(\\d)\\]\\s*", action)
    return bool(m) and m.group(1) in _free(obs) and m.group(1) not in "78"
"""
)
"""Over-strict checker (rejects cells 7 and 8) that the first-free proposer never exposes in self-play."""

_FILTER_REST = """

def is_legal_action(obs, action):
    return action in legal_actions(obs)


def propose_action(obs):
    moves = legal_actions(obs)
    return moves[0] if moves else "[0]"
"""

FILTER_GOOD = reply(
    _FREE
    + """

def legal_actions(obs):
    return [f"[{c}]" for c in _free(obs)]
"""
    + _FILTER_REST
)
"""Filter mode: exactly the free cells."""

FILTER_ALL = reply(
    _FREE
    + """

def legal_actions(obs):
    return [f"[{c}]" for c in range(9)]
"""
    + _FILTER_REST
)
"""Filter mode: every cell, taken or not (LIST_WRONG once a cell is taken)."""

FILTER_SHORT = reply(
    _FREE
    + """

def legal_actions(obs):
    return [f"[{c}]" for c in _free(obs) if c not in "78"] or [f"[{c}]" for c in _free(obs)]
"""
    + _FILTER_REST
)
"""Filter mode: leaves out cells 7 and 8 while others are free — only probing sees it."""
