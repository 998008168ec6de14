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


@pytest.mark.parametrize("transcript", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_transcript_replays_to_the_end(transcript, tmp_path):
    game, _, mode = transcript.stem.rpartition("-")
    result = learn(game, LearnConfig(mode=mode), make_client(f"replay:{transcript}"), tmp_path / "run")
    assert result.llm_calls == len(read_transcript(transcript))  # every recorded reply was asked for
    assert result.harness_path is not None and result.stop_reason == "solved"


def test_transcripts_are_bundled_for_several_kinds_of_game() -> None:
    assert {p.stem for p in BUNDLED} >= {
        "TicTacToe-v0-verifier",
        "TowerOfHanoi-v0-verifier",
        "Othello-v0-verifier",
    }
    for path in BUNDLED:  # provenance is truthful: none claims to be a paid model's output
        assert all(r.provenance.startswith("manual:") for r in read_transcript(path))
