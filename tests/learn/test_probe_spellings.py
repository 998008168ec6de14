"""Probing judges moves, not spellings (issue 10, item 7): on ConnectFour-v0-large, ``[col 03]`` is the move
``[col 3]``; a list or checker that handles ``[col 3]`` is not wrong for leaving ``[col 03]`` out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autoharness.learn.config import LearnConfig
from autoharness.learn.evaluator import Evaluator
from autoharness.sandbox import WorkerPool

COLUMNS = """
def legal_actions(obs):
    board = obs.rsplit("Board state:", 1)[-1].splitlines()
    rows = [r.split() for r in board if len(r.split()) == 15 and set(r.split()) <= set(".XO")]
    return [f"[col {c}]" for c in range(LAST) if rows and rows[0][c] == "."]

def propose_action(obs):
    return legal_actions(obs)[-1]

def is_legal_action(obs, action):
    return action in legal_actions(obs)
"""
"""ConnectFour-v0-large: the columns not yet full, spelled ``[col 3]`` (up to column LAST - 1)."""

COMPLETE = "LAST = 15\n" + COLUMNS
SHORT = "LAST = 14\n" + COLUMNS  # never lists column 14: a real gap


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as p:
        yield p


def evaluate(pool: WorkerPool, source: str, mode: str):
    config = LearnConfig(mode=mode, n_envs=2, max_steps=30, probe_states=10, probe_actions=30)
    with Evaluator("ConnectFour-v0-large", config, pool) as evaluator:
        return evaluator.evaluate(source)


@pytest.mark.parametrize("mode", ["filter", "verifier"])
def test_a_complete_list_is_not_wrong_about_other_spellings(pool, mode):
    ev = evaluate(pool, COMPLETE, mode)
    assert ev.probes > 0 and not ev.mismatches and ev.h == 1.0
    zeros = [m for m in ev.spellings if m.action.startswith("[col 0") and m.action != "[col 0]"]
    assert zeros, "the probe pool holds [col 0N] (one-character variants of [col 1N])"
    assert all(m.same_as == f"[col {int(m.action[5:-1])}]" for m in zeros)
    assert ev.summary()["spelling_variants"] == len(ev.spellings) and ev.summary()["mismatches"] == 0


def test_a_list_missing_a_move_is_still_wrong(pool):
    ev = evaluate(pool, SHORT, "filter")
    missing = {m.action for m in ev.mismatches}
    assert missing and all(int(a.strip("[col ]")) == 14 for a in missing)  # [col 14] or a respelling of it
    assert ev.h < 1.0
