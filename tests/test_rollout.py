"""play_rollout on real TextArena games, one test per verdict of the per-mode semantics."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoharness.envs import make
from autoharness.rollout import Rollout, RolloutEnd, StepVerdict, play_rollout, summarize
from autoharness.sandbox import FailureKind, WorkerPool

ROOT = Path(__file__).resolve().parents[1]

FREE_CELLS = """
import re

def free(obs):
    board = obs.rsplit("Current Board", 1)[-1]
    return [c for c in re.findall(r"\\b([0-8])\\b", board)]
"""


def harness(propose: str, checker: str, listed: str = "free(obs)") -> str:
    return FREE_CELLS + (
        f"\ndef propose_action(obs):\n    return {propose}\n"
        f"\ndef is_legal_action(obs, action):\n    return {checker}\n"
        f"\ndef legal_actions(obs):\n    return {listed}\n"
    )


GOOD = harness(
    "'[' + free(obs)[0] + ']'", "action.strip('[]') in free(obs)", "['[' + c + ']' for c in free(obs)]"
)


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(1) as p:
        yield p


def rollout(pool: WorkerPool, source: str, mode: str, seed: int = 0, max_steps: int = 1000):
    with pool.session(source, mode) as session:
        assert session.load_failure is None
        return play_rollout(make("TicTacToe-v0"), session, mode, seed, max_steps)


@pytest.mark.parametrize("mode", ["verifier", "filter", "policy"])
def test_correct_harness_plays_every_seat_to_the_end(pool, mode):
    r = rollout(pool, GOOD, mode, seed=3)
    assert r.done and r.first_failure is None and r.legal_steps == len(r.steps) >= 5
    assert [s.player for s in r.steps[:4]] == [0, 1, 0, 1]
    assert r.rewards is not None and set(r.rewards) == {0, 1}
    assert r.normalized_rewards is not None and all(0.0 <= v <= 1.0 for v in r.normalized_rewards.values())
    if mode == "filter":
        assert all(s.listed for s in r.steps)
    if mode == "verifier":
        assert all(s.checker_said is True for s in r.steps)


def test_filter_picks_are_seeded(pool):
    a, b = (rollout(pool, GOOD, "filter", seed=7) for _ in range(2))
    assert [s.action for s in a.steps] == [s.action for s in b.steps]


def test_verifier_checker_that_lets_an_illegal_move_through(pool):
    r = rollout(pool, harness("'[4]'", "True"), "verifier")
    assert [s.verdict for s in r.steps] == [StepVerdict.LEGAL, StepVerdict.CHECKER_WRONG]
    last = r.steps[-1]
    assert last.checker_said is True and last.action == "[4]" and "occupied" in last.env_reason
    assert not r.done and r.rewards is not None  # the env ended the game on the illegal move


def test_verifier_proposer_wrong_when_checker_rightly_refuses(pool):
    r = rollout(pool, harness("'[4]'", "action.strip('[]') in free(obs)"), "verifier")
    assert [s.verdict for s in r.steps] == [StepVerdict.LEGAL, StepVerdict.PROPOSER_WRONG]
    assert r.steps[-1].checker_said is False and r.steps[-1].env_reason
    assert r.rewards is None  # probing happened on a clone: the real game was not touched


def test_verifier_checker_too_strict(pool):
    r = rollout(pool, harness("'[4]'", "False"), "verifier")
    (step,) = r.steps
    assert step.verdict is StepVerdict.CHECKER_TOO_STRICT and step.checker_said is False


def test_policy_illegal_move(pool):
    r = rollout(pool, harness("'[4]'", "True"), "policy")
    assert [s.verdict for s in r.steps] == [StepVerdict.LEGAL, StepVerdict.PROPOSER_WRONG]
    assert "occupied" in r.steps[-1].env_reason


def test_filter_list_wrong_and_empty(pool):
    everything = "['[' + str(i) + ']' for i in range(9)]"
    r = rollout(pool, harness("''", "True", everything), "filter")
    assert r.steps[-1].verdict is StepVerdict.LIST_WRONG and len(r.steps) == 2
    assert r.steps[-1].wrong_listed == (r.steps[0].action,) and len(r.steps[-1].listed) == 9
    r = rollout(pool, harness("''", "True", "[]"), "filter")
    assert [s.verdict for s in r.steps] == [StepVerdict.LIST_EMPTY]


def test_code_failure_stops_the_rollout_with_the_failure(pool):
    r = rollout(pool, harness("'[' + free(obs)[0] + ']' if len(free(obs)) > 7 else 1/0", "True"), "verifier")
    assert [s.verdict for s in r.steps] == [StepVerdict.LEGAL, StepVerdict.LEGAL, StepVerdict.CODE_FAILURE]
    failure = r.steps[-1].failure
    assert failure.kind is FailureKind.EXCEPTION and failure.function == "propose_action"
    assert "ZeroDivisionError" in failure.message and failure.line is not None


def test_step_cap_leaves_the_game_unfinished_and_scores_it_as_the_game_would(pool):
    """A 2-player game cut by the step cap is TextArena's turn-limit outcome, a draw, and marked cut."""
    r = rollout(pool, GOOD, "policy", max_steps=3)
    assert len(r.steps) == 3 and r.legal_steps == 3 and not r.done and r.cut
    assert r.end is RolloutEnd.STEP_CAP and r.rewards == {0: 0.0, 1: 0.0}
    assert r.normalized_rewards == {0: 0.5, 1: 0.5}


# Policy mode against a random opponent: the harness plays one seat, the env's oracle the other.


def seated(pool: WorkerPool, source: str, seat: int, seed: int = 0, mode: str = "policy"):
    with pool.session(source, mode) as session:
        return play_rollout(make("TicTacToe-v0"), session, mode, seed, seat=seat)


@pytest.mark.parametrize("seat", [0, 1])
def test_policy_against_random_records_only_the_harness_seat(pool, seat):
    r = seated(pool, GOOD, seat, seed=3)
    assert r.done and r.seat == seat and r.first_failure is None
    assert r.steps and all(s.player == seat for s in r.steps)
    assert [s.index for s in r.steps] == [2 * i + seat for i in range(len(r.steps))]  # plies of the game
    assert seated(pool, GOOD, seat, seed=3) == r  # the opponent is seeded from the rollout seed
    assert summarize([r])["episodes"][0]["seat"] == seat


def test_policy_against_random_still_stops_at_the_harness_illegal_move(pool):
    r = seated(pool, harness("'[4]'", "True"), 1)
    assert [s.verdict for s in r.steps] in (
        [StepVerdict.PROPOSER_WRONG],
        [StepVerdict.LEGAL, StepVerdict.PROPOSER_WRONG],
    )
    assert not r.done and r.rewards == {1: -1.0, 0: 1.0} and "occupied" in r.steps[-1].env_reason


def test_seat_needs_policy_mode_in_a_two_player_game(pool):
    with pytest.raises(ValueError, match="policy mode"):
        seated(pool, GOOD, 0, mode="verifier")


# Exploration (verifier mode): a deterministic harness on a deterministic game still visits varied states.

STRICT_78 = harness(
    "'[' + free(obs)[0] + ']'", "action.strip('[]') in free(obs) and action not in ('[7]', '[8]')"
)
"""First-free proposer (self-play ends at step 6 with 7 and 8 never proposed) and a checker rejecting 7, 8."""

KNIGHTS = """
def propose_action(obs):
    board = obs.rsplit("Current board:", 1)[-1]
    rows = [line.split("|")[1].split() for line in board.splitlines() if line.count("|") == 2]
    white = "playing White" in obs
    home, away, piece = ("b1", "c3", "N") if white else ("b8", "c6", "n")
    at = lambda sq: rows[8 - int(sq[1])]["abcdefgh".index(sq[0])]
    return f"[{home}{away}]" if at(home) == piece else f"[{away}{home}]"

def is_legal_action(obs, action):
    return len(action) in (6, 7) and action[0] == "[" and action[-1] == "]"
"""
"""Chess: shuffle the b-knights out and back (a draw by repetition); a lax checker (well-formed UCI)."""


def episodes(pool, source, seeds, explore, game="TicTacToe-v0", max_steps=1000):
    with pool.session(source, "verifier") as session:
        assert session.load_failure is None
        return [play_rollout(make(game), session, "verifier", s, max_steps, explore=explore) for s in seeds]


def test_explore_zero_is_the_papers_rollout(pool):
    before = episodes(pool, GOOD, range(10), 0.0)
    assert len({tuple(s.observation for s in r.steps) for r in before}) == 1  # one line of play, ten times
    with pool.session(GOOD, "verifier") as session:
        default = [play_rollout(make("TicTacToe-v0"), session, "verifier", s) for s in range(10)]
    assert [r.steps for r in before] == [r.steps for r in default]
    assert all(s.played is None and not s.explored and s.move == s.action for r in before for s in r.steps)


def test_exploration_visits_different_games_and_is_replayable(pool):
    explored = episodes(pool, GOOD, range(10), 0.3)
    assert len({tuple(s.observation for s in r.steps) for r in explored}) >= 5
    assert all(r.done and r.first_failure is None for r in explored)  # H is still the legal-step rate: 1.0
    played = [s for r in explored for s in r.steps if s.played is not None]
    assert played and all(s.ok and s.checker_said and s.played != s.action for s in played)
    again = episodes(pool, GOOD, range(10), 0.3)
    assert [r.steps for r in again] == [r.steps for r in explored]  # same seed → same records


def test_exploration_catches_an_over_strict_checker_the_harness_never_exposes(pool):
    assert all(r.first_failure is None for r in episodes(pool, STRICT_78, range(10), 0.0))
    stops = [r.first_failure for r in episodes(pool, STRICT_78, range(10), 0.3)]
    caught = [s for s in stops if s is not None]
    assert caught and all(s.verdict is StepVerdict.CHECKER_TOO_STRICT for s in caught)
    assert all(s.explored and s.action in ("[7]", "[8]") and s.checker_said is False for s in caught)


def test_exploration_on_chess(pool):
    plain = episodes(pool, KNIGHTS, range(3), 0.0, "Chess-v0", max_steps=40)
    assert len({tuple(s.observation for s in r.steps) for r in plain}) == 1  # the same repetition draw
    assert all(r.done and r.legal_steps == len(r.steps) == 16 for r in plain)
    runs = episodes(pool, KNIGHTS, range(3), 0.5, "Chess-v0", max_steps=40)
    assert any(s.played is not None for r in runs for s in r.steps)
    assert len({tuple(s.observation for s in r.steps) for r in runs}) == 3
    assert runs == episodes(pool, KNIGHTS, range(3), 0.5, "Chess-v0", max_steps=40)


def test_explore_outside_zero_one_is_refused(pool):
    with pytest.raises(ValueError, match="explore"):
        episodes(pool, GOOD, [0], 1.5)


# The random opponent in a game without a move list (its moves probed from the game's action format).

CONNECT_FOUR_CENTRE = r"""
import re

def propose_action(obs):
    board = obs.rsplit("Board state:", 1)[-1]
    rows = [line.split() for line in board.splitlines() if re.fullmatch(r"[.XO]( [.XO]){6}", line.strip())]
    return next(f"[col {c}]" for c in (3, 2, 4, 1, 5, 0, 6) if rows[0][c] == ".")


def is_legal_action(obs, action):
    return True
"""


def play_connect_four(pool: WorkerPool, seed: int) -> Rollout:
    """The centre-first policy on ConnectFour-v0 against the seeded random opponent (seat by seed)."""
    with pool.session(CONNECT_FOUR_CENTRE, "policy") as session:
        return play_rollout(make("ConnectFour-v0"), session, "policy", seed, seat=seed % 2)


IN_A_FRESH_PROCESS = """
import pickle, sys
from autoharness.sandbox import WorkerPool
from tests.test_rollout import play_connect_four

with WorkerPool(1) as pool:
    rollouts = {seed: play_connect_four(pool, seed) for seed in range(6)}
with open(sys.argv[1], "wb") as out:
    pickle.dump(rollouts, out)
"""


def test_the_random_opponent_plays_the_same_whatever_the_process_played_before(tmp_path):
    """ConnectFour-v0 has no move list: the opponent's random moves are found by probing candidates, trying
    first the kinds that produced moves before. That record was the process's, so a training rollout met
    another opponent after other rollouts (or another thread's) had played: the same code version on the
    same seed got other feedback (the shipped Alquerque-v0 policy harness: 6 of its 10 training rollouts
    changed, one to a failure). Each match now keeps its own record (``envs.actions.SpaceRecord``): a
    rollout depends on its seed alone, in any order and in rollout threads side by side. The reference is
    played by a process that had played nothing before; here each is played after others (and after
    whatever the tests before it played: a process-wide record warmed by them hid the difference)."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    from autoharness.envs.base import legal_moves_of

    game = make("ConnectFour-v0")
    game.reset(0)
    assert legal_moves_of(game) is None  # still probed: a game with a move list would not test the record
    out = tmp_path / "rollouts.pickle"
    subprocess.run([sys.executable, "-c", IN_A_FRESH_PROCESS, str(out)], check=True, cwd=ROOT, timeout=300)
    fresh: dict[int, Rollout] = pickle.loads(out.read_bytes())
    assert all(r.done and r.first_failure is None for r in fresh.values())
    seeds = sorted(fresh)
    with WorkerPool(2) as pool:
        after = {seed: play_connect_four(pool, seed) for seed in reversed(seeds)}
        with ThreadPoolExecutor(2) as threads:
            side_by_side = dict(zip(seeds, threads.map(partial(play_connect_four, pool), seeds), strict=True))
    for seed in seeds:
        assert after[seed] == fresh[seed] and side_by_side[seed] == fresh[seed], seed
