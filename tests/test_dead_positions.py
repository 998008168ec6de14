"""Dead positions: TextArena's Breakthrough has no rule for a player whose pieces are all blocked and keeps
asking for a move. Such a game ends as "no legal move exists (game defect)", never as the harness's mistake:
in a rollout, in the learning loop (a correct harness is solved), and in an evaluation (no result)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autoharness.envs import make
from autoharness.evaluate import AgentSpec, evaluate, results_table, wdl_text
from autoharness.learn.config import LearnConfig
from autoharness.learn.critic import critique
from autoharness.learn.evaluator import Evaluator
from autoharness.learn.loop import learn
from autoharness.rollout import Rollout, RolloutEnd, StepVerdict, play_rollout, summarize
from autoharness.sandbox import WorkerPool
from tests.fakes import ScriptedLLM
from tests.harnesses import BREAKTHROUGH_VERIFIER

GAME = "Breakthrough-v0-small"
DEAD_SEED = 3002
"""With exploration at 0.3, this training game of run seed 3 leaves White with every piece blocked."""


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as p:
        yield p


@pytest.fixture(scope="module")
def dead_rollout(pool: WorkerPool) -> Rollout:
    with pool.session(BREAKTHROUGH_VERIFIER, "verifier") as session:
        return play_rollout(make(GAME), session, "verifier", DEAD_SEED, explore=0.3)


def test_a_rollout_ends_at_a_dead_position_without_blaming_the_harness(dead_rollout):
    r = dead_rollout
    assert r.end is RolloutEnd.DEAD_POSITION and r.end_message == "no legal move exists (game defect)"
    assert r.first_failure is None and r.legal_steps == len(r.steps) > 20  # the dead step is not a step
    assert r.dead_step is not None and r.dead_step.verdict is StepVerdict.PROPOSER_WRONG
    assert r.dead_step.checker_said is False  # the checker was right: nothing is legal there
    assert not r.done and r.rewards is None
    # The position really is dead: replayed from the seed, no move of the game's whole action space is legal.
    env = make(GAME)
    turn = env.reset(DEAD_SEED)
    for step in r.steps:
        turn = env.step(step.move).next
    files, ranks = "abcdef", "123456"
    every = [f"[{a}{b}{c}{d}]" for a in files for b in ranks for c in files for d in ranks]
    assert turn.player == r.dead_step.player and not any(env.clone().step(m).legal for m in every)
    summary = summarize([r])
    assert summary["dead_positions"] == 1 and summary["failures"] == [] and summary["legal_rate"] == 1.0


def test_the_same_harness_on_a_live_failure_is_still_blamed(pool):
    """A proposer that gives up while legal moves exist is wrong: only a truly dead position is excused."""
    lazy = BREAKTHROUGH_VERIFIER + (
        "\n_propose = propose_action\n\n\ndef propose_action(obs):\n"
        "    return '[a6a6]' if 'playing Black' in obs else _propose(obs)\n"
    )
    with pool.session(lazy, "verifier") as session:
        r = play_rollout(make(GAME), session, "verifier", 3000)
    assert r.end is RolloutEnd.FAILURE and r.first_failure.verdict is StepVerdict.PROPOSER_WRONG
    assert r.dead_step is None


def test_critic_says_so_and_h_is_one(pool):
    config = LearnConfig(seed=3, n_envs=3, probe_states=2, probe_actions=4)
    with Evaluator(GAME, config, pool) as evaluator:
        ev = evaluator.evaluate(BREAKTHROUGH_VERIFIER)
    assert ev.dead_positions == 1 and ev.legal_rate == 1.0 and ev.h == 1.0
    assert ev.summary()["dead_positions"] == 1
    text = critique(ev).text
    assert (
        text.startswith("All ")
        and "1 of the 3 games reached a position where the player to move had no" in text
    )
    assert "illegal move" not in text


def test_learning_a_correct_harness_is_solved_in_one_iteration(tmp_path: Path):
    reply = f"```python\n{BREAKTHROUGH_VERIFIER}\n```\n"
    config = LearnConfig(seed=3, n_envs=3, probe_states=2, probe_actions=4, max_iterations=3)
    result = learn(GAME, config, ScriptedLLM(lambda m: reply), tmp_path / "run")
    assert (result.iterations, result.h, result.stop_reason) == (1, 1.0, "solved")
    summary = (tmp_path / "run" / "summary.json").read_text()
    assert '"dead_positions": 1' in summary


def test_an_evaluation_counts_a_dead_position_as_no_result(dead_rollout):
    """Both seats replay the dead rollout's moves (a table from its positions): each match reaches the
    dead position, which is no result for either side and no illegal move of the agent."""
    table = {_key(s.observation): s.move for s in dead_rollout.steps}
    source = f"MOVES = {table!r}\n" + _REPLAYER
    (result,) = evaluate(
        GAME, [AgentSpec("policy")], opponent=AgentSpec("policy"), harness_source=source, matches=2
    )
    s = result.summary()
    assert {m.ended for m in result.matches} == {"dead_position"} and {m.outcome for m in result.matches} == {
        None
    }
    assert s["dead_positions"] == 2 and s["wins"] + s["draws"] + s["losses"] == 0
    assert s["mean_reward"] is None  # no match had a result: nothing to average (not 0)
    assert {m.reward for m in result.matches} == {0.0}  # and none is saved with a reward
    assert s["legal_rate"] == 1.0 == s["opponent_legal_rate"]  # the move no rule allowed is not counted
    assert wdl_text(s) == "0/0/0 (2 no result: no legal move existed (game defect))"
    table = results_table([result])
    assert [c.header for c in table.columns][2:5] == ["W/D/L", "by forfeit W/L", "no result"]
    assert [list(c.cells) for c in table.columns][2:5] == [["0/0/0"], ["0/0"], ["2"]]


def _key(observation: str) -> str:
    side = (
        "W"
        if observation.rfind("You are playing White") >= observation.rfind("You are playing Black")
        else "B"
    )
    return side + observation[observation.rfind(" 6 |") :]


_REPLAYER = """
def _key(observation):
    white = observation.rfind("You are playing White") >= observation.rfind("You are playing Black")
    return ("W" if white else "B") + observation[observation.rfind(" 6 |") :]


def propose_action(obs):
    return MOVES.get(_key(obs), "[a1a2]")


def is_legal_action(obs, action):
    return True
"""


def test_the_rollout_command_reports_a_dead_position(dead_rollout, tmp_path, capsys):
    from autoharness.cli import main

    table = {_key(s.observation): s.move for s in dead_rollout.steps}
    harness = tmp_path / "replayer.py"
    harness.write_text(f"MOVES = {table!r}\n" + _REPLAYER)
    assert main(["rollout", GAME, "--harness", str(harness), "--seed", str(DEAD_SEED)]) == 0
    out = capsys.readouterr().out
    assert "no legal move exists (game defect)" in out and "legal_rate 1.0000" in out
    assert "1 episode(s) reached a position with no legal move at all" in out
