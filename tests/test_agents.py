"""Test-time agents on real TextArena games: harness code runs in the real sandbox, LLM agents talk to a
real HTTP server on 127.0.0.1 (``tests/llm/fake_openai.py``) with a scripted responder."""

from __future__ import annotations

import re

import pytest

from autoharness.agents import (
    FilterAgent,
    HumanAgent,
    LLMAgent,
    PolicyAgent,
    RandomAgent,
    VerifierAgent,
)
from autoharness.envs import make
from autoharness.evaluate import play_match
from autoharness.llm import make_client
from autoharness.sandbox import WorkerPool
from tests.llm.fake_openai import FakeOpenAIServer

TICTACTOE = """
def _cells(obs):
    board = obs[obs.rfind("Current Board:"):]
    return [c.strip() for line in board.splitlines() if "|" in line for c in line.split("|")]

def legal_actions(obs):
    return [f"[{c}]" for c in _cells(obs) if c.isdigit()]

def propose_action(obs):
    moves = legal_actions(obs)
    return moves[0] if moves else "[0]"

def is_legal_action(obs, action):
    return action.strip() in legal_actions(obs)
"""
"""A correct TicTacToe harness (all three functions): the empty cells are the ones still showing a digit."""

CRASHES_ON_THIRD_MARK = TICTACTOE.replace(
    "def propose_action(obs):\n",
    "def propose_action(obs):\n"
    "    if sum(c in ('X', 'O') for c in _cells(obs)) >= 2:\n"
    "        raise RuntimeError('boom')\n",
)
"""Plays like ``TICTACTOE`` until two marks are on the board, then raises in ``propose_action``."""

_LAST_BOARD = re.compile(r"Current Board:(?:(?!Current Board:).)*\Z", re.S)


def first_empty(messages: list[dict]) -> str:
    """What a sensible model would answer: the first empty cell of the last board it was shown."""
    user = next(m["content"] for m in messages if m["role"] == "user")
    board = _LAST_BOARD.search(user)
    assert board is not None
    cells = [c.strip() for line in board.group(0).splitlines() if "|" in line for c in line.split("|")]
    return f"The first free square is best. [{next(c for c in cells if c.isdigit())}]"


@pytest.fixture(scope="module")
def pool():
    with WorkerPool(2) as p:
        yield p


@pytest.mark.parametrize("game", ["TicTacToe-v0", "2048-v0"])
def test_random_agent_probes_clones_and_only_plays_legal_moves(game):
    env = make(game)
    agents = [RandomAgent() for _ in range(env.num_players)]
    end = play_match(env, agents, seed=1_000_003, max_steps=300)
    assert end.ended in ("done", "step_cap") and end.plies > 3 and end.reason is None
    assert sum(a.stats.moves for a in agents) == end.plies
    assert all(a.stats.legal_rate == 1.0 for a in agents)


def test_random_agent_probes_pairs_of_tokens_for_two_part_moves():
    env = make("TowerOfHanoi-v0")
    agent = RandomAgent()
    end = play_match(env, [agent], seed=1_000_003, max_steps=20)
    assert end.plies > 3 and agent.stats.legal_rate == 1.0  # moves are [A C]: no single token is one


@pytest.mark.parametrize("game", ["Othello-v0", "Chess-v0"])
def test_random_agent_plays_from_the_env_oracle_where_probing_finds_nothing(game):
    env = make(game)
    agents = [RandomAgent() for _ in range(env.num_players)]
    end = play_match(env, agents, seed=1_000_003, max_steps=40)
    assert end.plies == 40 and all(a.stats.legal_rate == 1.0 for a in agents)
    again = [RandomAgent() for _ in range(env.num_players)]
    assert play_match(make(game), again, seed=1_000_003, max_steps=40) == end  # seeded


class _CountingSession:
    """Wraps a sandbox session, counting ``legal_actions`` calls."""

    def __init__(self, session):
        self._session = session
        self.load_failure = session.load_failure
        self.calls = 0

    def legal_actions(self, observation):
        self.calls += 1
        return self._session.legal_actions(observation)


CONNECT_FOUR_COLUMNS = """
def legal_actions(obs):
    board = obs.rsplit("Board state:", 1)[-1].splitlines()
    rows = [r.split() for r in board if len(r.split()) == 7 and set(r.split()) <= set(".XO")]
    return [f"[col {c}]" for c in range(7) if rows and rows[0][c] == "."]

def propose_action(obs):
    return legal_actions(obs)[0]

def is_legal_action(obs, action):
    return action in legal_actions(obs)
"""
"""ConnectFour-v0 (no legal-move oracle: TextArena prints no move list for it): the columns not yet full."""


def test_random_agent_prefers_the_oracle_then_the_harness_legal_list(pool):
    with pool.session(TICTACTOE, "filter") as session:
        counting = _CountingSession(session)
        agents = [RandomAgent(counting), RandomAgent()]
        play_match(make("TicTacToe-v0"), agents, seed=1_000_000)
        assert counting.calls == 0 and agents[0].stats.legal_rate == 1.0  # TicTacToe has an oracle
    env = make("ConnectFour-v0")
    turn = env.reset(1_000_000)
    assert env.legal_moves() is None  # a game without one: the harness's list comes next
    with pool.session(CONNECT_FOUR_COLUMNS, "filter") as session:
        counting = _CountingSession(session)
        assert counting.legal_actions(turn.observation) == [f"[col {c}]" for c in range(7)]
        agents = [RandomAgent(counting), RandomAgent(counting)]
        end = play_match(env, agents, seed=1_000_000)
    assert end.ended == "done" and counting.calls == 1 + end.plies
    assert all(a.stats.legal_rate == 1.0 and not a.stats.harness_failures for a in agents)
    assert sum(a.stats.moves for a in agents) == end.plies


def test_policy_agent_plays_the_harness(pool):
    env = make("TicTacToe-v0")
    with pool.session(TICTACTOE, "policy") as session:
        agent = PolicyAgent(session)
        play_match(env, [agent, RandomAgent()], seed=1_000_001)
    assert agent.stats.legal_rate == 1.0
    assert agent.stats.fallback_moves == 0 and agent.stats.llm_calls == 0


def test_harness_crash_mid_match_is_recorded_and_the_match_completes(pool):
    env = make("TicTacToe-v0")
    with pool.session(CRASHES_ON_THIRD_MARK, "policy") as session:
        agent = PolicyAgent(session)
        end = play_match(env, [agent, RandomAgent()], seed=1_000_001)
    assert end.ended == "done" and end.rewards is not None
    assert len(agent.stats.harness_failures) == 1  # switched off after the first failure
    assert "exception" in agent.stats.harness_failures[0] and "boom" in agent.stats.harness_failures[0]
    assert agent.stats.fallback_moves >= 1 and agent.stats.legal_rate == 1.0  # probing played the rest


def test_harness_that_does_not_load_is_one_failure_and_fallback_plays(pool):
    env = make("TicTacToe-v0")
    with pool.session("def propose_action(obs:\n", "policy") as session:
        agent = PolicyAgent(session)
        play_match(env, [agent, RandomAgent()], seed=1_000_002)
    assert len(agent.stats.harness_failures) == 1 and "syntax_error" in agent.stats.harness_failures[0]
    assert agent.stats.fallback_moves == agent.stats.moves and agent.stats.legal_rate == 1.0


def test_plain_llm_agent_parses_the_bracketed_action_and_counts_tokens():
    with FakeOpenAIServer(lambda body: first_empty(body["messages"])) as server:
        agent = LLMAgent(make_client("fake-a", base_url=server.base_url))
        play_match(make("TicTacToe-v0"), [agent, RandomAgent()], seed=1_000_000)
    s = agent.stats
    assert s.legal_rate == 1.0 and s.llm_calls == s.moves == len(server.requests)
    assert s.prompt_tokens == 10 * s.llm_calls and s.completion_tokens > 0
    assert s.provenance and "fake-a" in s.provenance[0]
    assert server.requests[0]["messages"][0]["role"] == "system"


def test_verifier_reprompts_after_the_harness_says_illegal(pool):
    def reply(body):
        warned = "Illegal action" in body["messages"][-1]["content"]
        return first_empty(body["messages"]) if warned else "The centre is strongest. [4]"

    with FakeOpenAIServer(reply) as server, pool.session(TICTACTOE, "verifier") as session:
        agent = VerifierAgent(make_client("fake-v", base_url=server.base_url), session)
        play_match(make("TicTacToe-v0"), [RandomAgent(), agent], seed=1_000_000)
    s = agent.stats
    assert s.caught >= 1  # [4] was proposed again after it was taken, and stopped
    assert s.legal_rate == 1.0 and s.retry_exhausted == 0
    assert s.llm_calls == s.moves + s.caught
    warned = [b for b in server.requests if "Illegal action: [4]" in b["messages"][-1]["content"]]
    assert len(warned) == s.caught


def test_verifier_after_the_retry_limit_plays_the_harness_proposal(pool):
    with FakeOpenAIServer(lambda body: "[4]") as server, pool.session(TICTACTOE, "verifier") as session:
        agent = VerifierAgent(make_client("fake-v", base_url=server.base_url), session, retries=2)
        play_match(make("TicTacToe-v0"), [agent, RandomAgent()], seed=1_000_000)
    s = agent.stats
    assert s.moves >= 2 and s.legal_rate == 1.0
    assert s.retry_exhausted == s.fallback_moves == s.moves - 1  # every move after the first
    assert s.caught == 3 * (s.moves - 1)  # 1 proposal + 2 retries, all caught, per exhausted move


def test_filter_agent_lets_the_llm_pick_from_the_code_list(pool):
    def reply(body):
        last = body["messages"][-1]["content"]
        if "is not one of the legal actions" in last:
            return "Fine: " + re.findall(r"\[\d\]", last)[-1]
        return "I like the corner [9]"  # off the list: the filter must catch it

    with FakeOpenAIServer(reply) as server, pool.session(TICTACTOE, "filter") as session:
        agent = FilterAgent(make_client("fake-f", base_url=server.base_url), session)
        play_match(make("TicTacToe-v0"), [agent, RandomAgent()], seed=1_000_000)
    s = agent.stats
    assert s.legal_rate == 1.0 and s.caught == s.moves and s.llm_calls == 2 * s.moves
    assert "The legal actions in this state are: [0], [1]" in server.requests[0]["messages"][1]["content"]


def test_human_agent_reads_moves_and_warns_about_illegal_ones(pool):
    shown: list[str] = []
    asked: list[str] = []

    def read(prompt: str) -> str:
        asked.append(prompt)
        if "Play it anyway" in prompt:
            return "n"
        typed = ["", "4", "4"]  # a blank line (ignored), the centre, then the centre again: illegal
        if len(asked) <= len(typed):
            return typed[len(asked) - 1]
        return first_empty([{"role": "user", "content": shown[-1]}]).split()[-1].strip("[]")

    with pool.session(TICTACTOE, "verifier") as session:
        human = HumanAgent(session, read=read, write=shown.append)
        play_match(make("TicTacToe-v0"), [human, RandomAgent()], seed=1_000_000)
    assert human.stats.caught == 1 and human.stats.legal_rate == 1.0
    assert any("says [4] is illegal" in prompt for prompt in asked)
    assert "Current Board" in shown[0]
