"""Every bundled transcript still replays: a prompt that drifted (templates, critic text, observations)
would make the replay ask something the transcript lacks, and ``ReplayMiss`` fails this test."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import learn
from autoharness.llm import make_client, read_transcript

BUNDLED = sorted(Path(str(resources.files("autoharness").joinpath("data", "transcripts"))).glob("*.jsonl"))


RECORDED_BEFORE_EXPLORATION = {"Othello-v0-verifier"}
"""Recorded with the paper's rollouts (no ``LearnConfig.explore``): with exploration the run's first
harness is no longer H = 1.0 (exploration reaches an Othello pass its checker rejects), so the run asks for a
refinement the transcript lacks. Re-record these, then empty this set (strict xfail: it fails once a
transcript replays again)."""


def _marks(path: Path) -> list[pytest.MarkDecorator]:
    if path.stem not in RECORDED_BEFORE_EXPLORATION:
        return []
    return [pytest.mark.xfail(reason="recorded before exploration: re-record", strict=True)]


@pytest.mark.parametrize("transcript", [pytest.param(p, id=p.stem, marks=_marks(p)) for p in BUNDLED])
def test_bundled_transcript_replays_to_the_end(transcript, tmp_path):
    game, _, mode = transcript.stem.rpartition("-")
    result = learn(game, LearnConfig(mode=mode), make_client(f"replay:{transcript}"), tmp_path / "run")
    assert result.llm_calls == len(read_transcript(transcript))  # every recorded reply was asked for
    assert result.harness_path is not None
