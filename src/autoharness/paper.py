"""The AutoHarness paper's published figures, bundled in ``data/paper/`` (see its ATTRIBUTION.md).

Reference columns for the registry, reports and suite tables; never expected outputs. A figure is shown only
beside a result of the same kind: the paper's learning figures (``games145``: LLM calls to learn a harness,
the legal rate it reached) were measured learning action-verifier harnesses, and its evaluation columns
(``reward_1p``, ``legal_rate_1p``) belong to one kind of agent each (``AGENT_COLUMN``).
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources
from typing import NamedTuple

AGENT_COLUMN = {
    "policy": "harness_as_policy",
    "verifier": "flash_plus_harness",
    "llm": "gemini_2_5_flash",
}
"""Our agent kind → the paper's evaluation column for the same kind of agent. The paper published none for
the action filter or a random agent; ``llm`` compares a plain LLM with the paper's plain Gemini-2.5-Flash."""

LEARNING_MODE = "verifier"
"""The only learning mode the paper's per-game learning figures describe. It trained policies separately (up
to 256 iterations) and published no per-game policy learning figures."""


PAPER_COLUMNS = {
    "gemini_2_5_flash": "Gemini-2.5-Flash",
    "gemini_2_5_pro": "Gemini-2.5-Pro",
    "flash_plus_harness": "Flash + harness",
    "gpt_5_2": "GPT-5.2",
    "gpt_5_2_high": "GPT-5.2-High",
    "harness_as_policy": "Harness as policy",
}
"""Column names of the bundled evaluation tables (``reward_1p``, ``legal_rate_1p``) → their labels."""


class LearningFigures(NamedTuple):
    llm_calls: int
    legal_rate: float


class AgentFigures(NamedTuple):
    column: str  # the paper's column name (``AGENT_COLUMN``)
    reward: float | None
    legal_rate: float | None


@cache
def paper_table(name: str) -> dict[str, dict[str, str]]:
    """A bundled paper table (``games145``, ``reward_1p``, ``legal_rate_1p``) by game id, in file order."""
    text = resources.files("autoharness.data.paper").joinpath(f"{name}.tsv").read_text(encoding="utf-8")
    return {row["game"]: row for row in csv.DictReader(io.StringIO(text), delimiter="\t")}


def paper_learning(game: str, mode: str | None) -> LearningFigures | None:
    """The paper's figures for learning ``game``'s harness, if a run in ``mode`` compares with them."""
    row = paper_table("games145").get(game)
    if row is None or mode != LEARNING_MODE:
        return None
    return LearningFigures(int(row["learning_steps"]), float(row["legal_action_rate"]))


def paper_agent(game: str, agent: str | None) -> AgentFigures | None:
    """The paper's evaluation figures for the agent kind of ``agent`` (a spec like ``policy`` or
    ``verifier:MODEL``) on ``game``: 1-player evaluation games only; None when the paper has no such agent."""
    column = AGENT_COLUMN.get(agent.split(":", 1)[0]) if agent else None
    reward, legal = paper_table("reward_1p").get(game), paper_table("legal_rate_1p").get(game)
    if column is None or (reward is None and legal is None):
        return None
    return AgentFigures(
        column,
        float(reward[column]) if reward else None,
        float(legal[column]) if legal else None,
    )


__all__ = [
    "AGENT_COLUMN",
    "LEARNING_MODE",
    "PAPER_COLUMNS",
    "AgentFigures",
    "LearningFigures",
    "paper_agent",
    "paper_learning",
    "paper_table",
]
