"""LearnConfig: one source of defaults, validated, disjoint training/evaluation seeds."""

from __future__ import annotations

import pytest

from autoharness.errors import ConfigError
from autoharness.learn.config import EVAL_SEED_START, LearnConfig


def test_training_seeds_are_distinct_and_below_evaluation_seeds():
    for seed in (0, 1, 999):
        seeds = LearnConfig(seed=seed, n_envs=1000).train_seeds
        assert len(set(seeds)) == 1000 and max(seeds) < EVAL_SEED_START
    assert set(LearnConfig(seed=0).train_seeds).isdisjoint(LearnConfig(seed=1).train_seeds)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_iterations": 0}, "empty budget: max_iterations"),
        ({"max_llm_calls": 0}, "empty budget: max_llm_calls"),
        ({"max_wall_seconds": -1.0}, "empty budget"),
        ({"mode": "oracle"}, "mode must be one of"),
        ({"scheduler": "mcts"}, "scheduler must be one of"),
        ({"seed": 1000}, "seed must be in"),
        ({"n_envs": 0}, "n_envs must be"),
        ({"target_h": 1.5}, "target_h"),
        ({"explore": 1.5}, "explore must be in"),
        ({"explore": -0.1}, "explore must be in"),
    ],
)
def test_bad_values_are_one_clear_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LearnConfig(**kwargs)


def test_explore_defaults_on_and_has_a_cli_flag():
    import argparse

    from autoharness.learn.command import add_arguments

    assert LearnConfig().explore == 0.3 and LearnConfig(explore=0).explore == 0
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["TicTacToe-v0", "--explore", "0"]).explore == 0.0


def test_a_stored_config_from_before_exploration_resumes_without_it():
    stored = LearnConfig().to_dict()
    del stored["explore"]
    assert LearnConfig.from_dict(stored).explore == 0.0


def test_round_trip_and_unknown_fields():
    cfg = LearnConfig(mode="policy", max_tokens=5000, probe=False)
    assert LearnConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown fields: colour"):
        LearnConfig.from_dict({**cfg.to_dict(), "colour": "red"})


def test_public_api_names():
    import autoharness.learn as api

    for name in api.__all__:
        assert getattr(api, name) is not None
