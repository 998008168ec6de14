"""A shared pool with short limits, so hostile cases end quickly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from autoharness.sandbox import SandboxLimits, WorkerPool

TEST_LIMITS = SandboxLimits(call_timeout=3.0, load_timeout=10.0, memory_mb=512, cpu_seconds=20)

GOOD = """
def propose_action(obs):
    return obs.upper()

def is_legal_action(obs, action):
    return action == obs.upper()

def legal_actions(obs):
    return [obs, obs.upper()]
"""


@pytest.fixture(scope="session")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2, limits=TEST_LIMITS) as p:
        yield p


def assert_pool_works(pool: WorkerPool) -> None:
    """A well-behaved harness still gets exact answers after whatever ran before."""
    with pool.session(GOOD, "filter") as s:
        assert s.load_failure is None
        assert s.propose_action("ab") == "AB"
        assert s.is_legal_action("ab", "AB") is True
        assert s.is_legal_action("ab", "ab") is False
        assert s.legal_actions("ab") == ["ab", "AB"]
