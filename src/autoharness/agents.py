"""Test-time agents: the paper's three ways to use a harness, plus the baselines and a human.

Every agent follows one small protocol: ``begin_match(env, player, seed)`` (fresh per-match stats and RNG;
the env is kept only so an agent may probe a *clone* of it), then ``act(observation, player) -> action``.
The match loop (``autoharness.evaluate``) plays the action and records whether the environment accepted it.

| agent | LLM | harness calls | on a harness failure (crash, timeout, garbage) |
|---|---|---|---|
| ``RandomAgent`` | no | ``legal_actions`` if the env has no oracle | a random legal move (``envs.actions``) |
| ``LLMAgent`` | yes | none (the no-harness baseline) | — |
| ``FilterAgent`` | picks from the code's list | ``legal_actions`` | the LLM picks unaided (plain prompt) |
| ``VerifierAgent`` | proposes | ``is_legal_action`` (+ ``propose_action`` at limit) | moves go unchecked |
| ``PolicyAgent`` | no | ``propose_action`` | random legal moves (``envs.actions``) |
| ``HumanAgent`` | no | ``is_legal_action`` as a warning | the human's move goes unchecked |

A harness that fails once is switched off for the rest of that match (one recorded failure, no repeated
timeouts); the fallback in the table plays every remaining move, so the match always completes.

Random moves (the random agent, and the policy agent's fallback) are legal in every game:
``envs.actions.random_legal_action`` takes them from the env's legal-move oracle where it has one
(TextArena's own move list, e.g. Chess, Othello, 36 of the 145 games; never shown to any agent), else
from candidates built from the game's own action format, tried on clones of the env. In a dead position
(no move is accepted: TextArena's Breakthrough with every piece blocked) there is no legal move to play;
the agent then sends ``[]``, which the game rejects.

Verifier retry limit: the LLM gets ``retries`` re-prompts with an "illegal action" warning. After the limit
(counted in ``retry_exhausted``) the harness's own ``propose_action`` is played if its checker accepts it
(counted in ``fallback_moves``); otherwise the LLM's last proposal goes to the environment, which judges it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

from .envs.actions import SpaceRecord, random_legal_action
from .envs.base import Env, legal_moves_of
from .errors import BadReply
from .llm.base import LLMClient, Message, Params
from .llm.extract import extract_action
from .sandbox.failures import HarnessFailure

RETRIES = 3
"""Default re-prompts per move for the verifier and filter agents."""


@dataclass(slots=True)
class AgentStats:
    """What one agent did in one match; ``moves``/``legal_moves`` are filled in by the match loop."""

    moves: int = 0  # actions sent to the environment
    legal_moves: int = 0  # ... that the environment accepted
    caught: int = 0  # illegal proposals the harness stopped before they reached the environment
    retry_exhausted: int = 0  # moves where the retry limit was reached
    fallback_moves: int = 0  # moves chosen by a fallback (harness off, unusable replies, limit reached)
    unparsed_replies: int = 0  # LLM replies with no bracketed action
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    harness_failures: list[str] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)  # where LLM replies came from (distinct)

    @property
    def legal_rate(self) -> float | None:
        return self.legal_moves / self.moves if self.moves else None

    def record_move(self, legal: bool) -> None:
        self.moves += 1
        self.legal_moves += legal

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"legal_rate": self.legal_rate}


class HarnessSession(Protocol):
    """The slice of a sandbox session the agents call (``autoharness.sandbox`` provides it)."""

    load_failure: HarnessFailure | None

    def propose_action(self, observation: str) -> str | HarnessFailure: ...

    def is_legal_action(self, observation: str, action: str) -> bool | HarnessFailure: ...

    def legal_actions(self, observation: str) -> list[str] | HarnessFailure: ...


class Agent(Protocol):
    """One seat's player. ``stats`` covers the current match only."""

    name: str
    stats: AgentStats

    def begin_match(self, env: Env, player: int, seed: int) -> None: ...

    def act(self, observation: str, player: int) -> str: ...


class _Base:
    """Shared bookkeeping: stats, the env handle for probing, and switching a failed harness off."""

    name = "agent"

    def __init__(self, harness: HarnessSession | None = None) -> None:
        self._harness = harness
        self._rng = random.Random()
        self._env: Env | None = None
        self._record = SpaceRecord()
        self._harness_on = False
        self.stats = AgentStats()

    def begin_match(self, env: Env, player: int, seed: int) -> None:
        """Reset stats, the RNG from (match seed, seat) and the record of where random moves were found: a
        match replays the same whatever ran before, in any order or thread (our own RNG, never the global
        one TextArena reseeds; our own ``SpaceRecord``, never one shared with other matches)."""
        self._rng = random.Random(f"{seed}:{player}")
        self._record = SpaceRecord()
        self._env = env
        self.stats = AgentStats()
        self._harness_on = self._harness is not None
        if self._harness is not None and self._harness.load_failure is not None:
            self._harness_failed(self._harness.load_failure)

    def _harness_failed(self, failure: HarnessFailure) -> None:
        self.stats.harness_failures.append(failure.describe())
        self._harness_on = False

    def _call[T](self, fn: Callable[..., T | HarnessFailure], *args: str) -> T | None:
        """Call a harness function; a failure is recorded, switches the harness off and yields None."""
        result = fn(*args)
        if isinstance(result, HarnessFailure):
            self._harness_failed(result)
            return None
        return result

    def _random_move(self, observation: str) -> str:
        """A random legal move (``envs.actions.random_legal_action``); ``[]`` in a dead position."""
        assert self._env is not None, "begin_match was not called"
        move = random_legal_action(self._env, self._rng, observation, self._record)
        return move if move is not None else "[]"


class RandomAgent(_Base):
    """A random legal move: from the harness's ``legal_actions`` when the agent was given a harness (a
    random pick from the code's list), else ``envs.actions.random_legal_action`` (the env's oracle, or
    candidates from the game's action format probed on clones)."""

    name = "random"

    def act(self, observation: str, player: int) -> str:
        if self._harness_on and legal_moves_of(self._env) is None:
            assert self._harness is not None
            moves = self._call(self._harness.legal_actions, observation)
            if moves:
                return self._rng.choice(moves)
            if moves is not None:  # an empty list while the game goes on: the code is wrong here
                self.stats.harness_failures.append("legal_actions returned an empty list")
                self._harness_on = False
        return self._random_move(observation)


class PolicyAgent(_Base):
    """The harness's ``propose_action`` is the whole policy: no LLM at test time."""

    name = "policy"

    def act(self, observation: str, player: int) -> str:
        if self._harness_on:
            assert self._harness is not None
            action = self._call(self._harness.propose_action, observation)
            if action is not None:
                return action
        self.stats.fallback_moves += 1
        return self._random_move(observation)


SYSTEM_PROMPT = (
    "You are playing a text game as player {player}. Read the observation, think briefly about the rules "
    "and the position, then end your reply with your move in square brackets, written exactly in the "
    "format the game asks for. Only the last bracketed text of your reply is played."
)
NO_ACTION_WARNING = (
    "Your reply contained no move in square brackets. Answer again and end with your move in brackets."
)
ILLEGAL_WARNING = (
    "Illegal action: {action} is not allowed in the current state. Think again about the rules and choose a "
    "different, legal action. End with your move in square brackets."
)
FILTER_PROMPT = (
    "\n\nThe legal actions in this state are: {moves}\n"
    "Reason about which one is best, then end your reply with exactly one of them."
)
OFF_LIST_WARNING = (
    "{action} is not one of the legal actions. The legal actions are: {moves}\n"
    "End your reply with exactly one of them."
)


class LLMAgent(_Base):
    """The no-harness baseline: prompt with the observation, play the bracketed action of the reply.
    Subclasses add the harness around the same prompt and accounting."""

    name = "llm"

    def __init__(
        self,
        client: LLMClient,
        harness: HarnessSession | None = None,
        *,
        params: Params | None = None,
        retries: int = RETRIES,
    ) -> None:
        super().__init__(harness)
        self._client = client
        self._params = params or Params(temperature=1.0)
        self._retries = retries
        self.name = f"{self.name}:{client.model}"

    def _ask(self, messages: list[Message]) -> tuple[str, str | None]:
        """One LLM call with accounting; returns (reply text, its action or None)."""
        try:
            completion = self._client.complete(messages, self._params)[0]
        except BadReply as exc:  # an unusable reply is a bad move, not a crash
            self.stats.llm_calls += 1
            self.stats.unparsed_replies += 1
            return f"(unusable reply: {exc})", None
        s = self.stats
        s.llm_calls += 1
        s.prompt_tokens += completion.usage.prompt_tokens
        s.completion_tokens += completion.usage.completion_tokens
        s.cost_usd += completion.cost_usd
        if completion.provenance not in s.provenance:
            s.provenance.append(completion.provenance)
        action = extract_action(completion.text)
        if action is None:
            s.unparsed_replies += 1
        return completion.text, action

    def _messages(self, observation: str, player: int, extra: str = "") -> list[Message]:
        return [
            {"role": "system", "content": SYSTEM_PROMPT.format(player=player)},
            {"role": "user", "content": observation + extra},
        ]

    def _plain_move(self, observation: str, player: int) -> str:
        """Ask until a reply carries an action (up to the retry limit); '[]' if none ever does."""
        messages = self._messages(observation, player)
        for _ in range(1 + self._retries):
            reply, action = self._ask(messages)
            if action is not None:
                return action
            messages += [
                {"role": "assistant", "content": reply},
                {"role": "user", "content": NO_ACTION_WARNING},
            ]
        self.stats.retry_exhausted += 1
        return "[]"

    def act(self, observation: str, player: int) -> str:
        return self._plain_move(observation, player)


class VerifierAgent(LLMAgent):
    """The paper's main method: the LLM proposes, ``is_legal_action`` vetoes, the LLM is re-prompted."""

    name = "verifier"

    def act(self, observation: str, player: int) -> str:
        if not self._harness_on:
            return self._plain_move(observation, player)
        assert self._harness is not None
        messages = self._messages(observation, player)
        last: str | None = None
        for _ in range(1 + self._retries):
            reply, action = self._ask(messages)
            if action is None:
                warning = NO_ACTION_WARNING
            else:
                last = action
                verdict = self._call(self._harness.is_legal_action, observation, action)
                if verdict is None or verdict:  # harness failed (now off: unchecked) or said legal
                    return action
                self.stats.caught += 1
                warning = ILLEGAL_WARNING.format(action=action)
            messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": warning}]
        self.stats.retry_exhausted += 1
        own = self._call(self._harness.propose_action, observation) if self._harness_on else None
        if own is not None and self._call(self._harness.is_legal_action, observation, own):
            self.stats.fallback_moves += 1
            return own
        return last if last is not None else "[]"


class FilterAgent(LLMAgent):
    """The code lists the legal moves; the LLM reasons and picks one of them."""

    name = "filter"

    def act(self, observation: str, player: int) -> str:
        moves = None
        if self._harness_on:
            assert self._harness is not None
            moves = self._call(self._harness.legal_actions, observation)
        if not moves:
            if moves is not None:
                self.stats.harness_failures.append("legal_actions returned an empty list")
                self._harness_on = False
            self.stats.fallback_moves += 1
            return self._plain_move(observation, player)
        listed = ", ".join(moves)
        by_key = {_key(m): m for m in moves}
        messages = self._messages(observation, player, FILTER_PROMPT.format(moves=listed))
        for _ in range(1 + self._retries):
            reply, action = self._ask(messages)
            if action is not None and _key(action) in by_key:
                return by_key[_key(action)]
            if action is None:
                warning = NO_ACTION_WARNING
            else:
                self.stats.caught += 1
                warning = OFF_LIST_WARNING.format(action=action, moves=listed)
            messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": warning}]
        self.stats.retry_exhausted += 1
        self.stats.fallback_moves += 1
        return self._rng.choice(moves)


def _key(action: str) -> str:
    """Compare actions the way a person would: case and spacing do not matter."""
    return " ".join(action.lower().split())


class HumanAgent(_Base):
    """A person at the terminal. With a harness, a move its checker rejects needs confirming."""

    name = "human"

    def __init__(
        self,
        harness: HarnessSession | None = None,
        *,
        read: Callable[[str], str] = input,
        write: Callable[[str], None] = print,
    ) -> None:
        super().__init__(harness)
        self._read = read
        self._write = write

    def act(self, observation: str, player: int) -> str:
        self._write(f"\n{observation}\n")
        while True:
            action = _as_action(self._ask(f"player {player} move> "))
            if not action:
                continue
            if not self._harness_on:
                return action
            assert self._harness is not None
            verdict = self._call(self._harness.is_legal_action, observation, action)
            if verdict is None or verdict:
                return action
            self.stats.caught += 1
            again = self._ask(f"The harness says {action} is illegal. Play it anyway? [y/N] ")
            if again.strip().lower() in {"y", "yes"}:
                return action

    def _ask(self, prompt: str) -> str:
        try:
            return self._read(prompt)
        except EOFError:  # input closed (Ctrl-D, piped file ran out): the person has left the game
            raise KeyboardInterrupt from None


def _as_action(text: str) -> str:
    """Typed '4' means '[4]': the bracket format is the game's, not something a person should recall."""
    text = text.strip()
    return text if not text or "[" in text else f"[{text}]"


__all__ = [
    "RETRIES",
    "Agent",
    "AgentStats",
    "FilterAgent",
    "HarnessSession",
    "HumanAgent",
    "LLMAgent",
    "PolicyAgent",
    "RandomAgent",
    "VerifierAgent",
]
