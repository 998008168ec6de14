"""Run store: transactional nodes + LLM call links, totals, and refusal of a missing run."""

from __future__ import annotations

import pytest

from autoharness.errors import RunStoreError
from autoharness.learn.store import CallRow, RunStore


def _call(tokens: int = 10) -> CallRow:
    return CallRow("m", "test", tokens, tokens, 0.01, False, [{"role": "user", "content": "hi"}])


def _add(store: RunStore, parent: int | None, h: float, code: str | None = "def f(): pass") -> int:
    return store.add_node(
        parent=parent,
        kind="root" if parent is None else "refine_both",
        code=code,
        h=h,
        legal_rate=h,
        evaluation={"problems": 1},
        feedback="fb",
        refine_kind="both",
        seconds=0.5,
        call=_call(),
    )


def test_nodes_calls_and_totals_survive_reopening(tmp_path):
    store = RunStore(tmp_path / "run", create=True)
    store.set_meta(game="TicTacToe-v0", config={"mode": "verifier"})
    root = _add(store, None, 0.2)
    child = _add(store, root, 0.7)
    _add(store, root, 0.0, code=None)
    store.close()
    store = RunStore(tmp_path / "run", create=False)
    nodes = store.nodes()
    assert [(n.id, n.parent, n.depth, n.refined) for n in nodes] == [
        (root, None, 0, 2),
        (child, root, 1, 0),
        (3, root, 1, 0),
    ]
    assert [n.as_search_node().refinable for n in nodes] == [True, True, False]
    totals = store.totals()
    assert (totals.iterations, totals.llm_calls, totals.tokens, totals.seconds) == (3, 3, 60, 1.5)
    assert store.meta()["game"] == "TicTacToe-v0"
    assert store.calls()[0].prompt == [{"role": "user", "content": "hi"}]


def test_failed_write_leaves_no_half_iteration(tmp_path):
    store = RunStore(tmp_path, create=True)
    root = _add(store, None, 0.5)
    with pytest.raises(RunStoreError, match="parent node 42"):
        _add(store, 42, 0.9)
    assert [n.id for n in store.nodes()] == [root]
    assert store.totals().llm_calls == 1


def test_resuming_a_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(RunStoreError, match="no run to resume"):
        RunStore(tmp_path / "nothing", create=False)
