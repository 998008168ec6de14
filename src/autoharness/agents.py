"""Test-time agents: the paper's three ways to use a harness, plus the baselines and a human.

Every agent follows one small protocol: ``begin_match(env, player, seed)`` (fresh per-match stats and RNG;
the env is kept only so an agent may probe a *clone* of it), then ``act(observation, player) -> action``.
The match loop (``autoharness.evaluate``) plays the action and records whether the environment accepted it.

| agent | LLM | harness calls | on a harness failure (crash, timeout, garbage) |
|---|---|---|---|
| ``RandomAgent`` | no | ``legal_actions`` if the env has no oracle | probes clones of the env instead |
| ``LLMAgent`` | yes | none (the no-harness baseline) | — |
| ``FilterAgent`` | picks from the code's list | ``legal_actions`` | the LLM picks unaided (plain prompt) |
| ``VerifierAgent`` | proposes | ``is_legal_action`` (+ ``propose_action`` at limit) | moves go unchecked |
| ``PolicyAgent`` | no | ``propose_action`` | random moves (oracle, else probing) |
| ``HumanAgent`` | no | ``is_legal_action`` as a warning | the human's move goes unchecked |

A harness that fails once is switched off for the rest of that match (one recorded failure, no repeated
timeouts); the fallback in the table plays every remaining move, so the match always completes.

Random moves (the random agent, and the policy agent's fallback) come first from the env's legal-move
oracle when it has one (``envs.base.HasLegalMoves``: TextArena's own move list, e.g. Chess, Othello, 36 of
the 145 games; never shown to any agent). Otherwise random-by-probing tries the moves whose text appears in
the observation (bracketed strings, and short tokens put in brackets) on clones of the env, then pairs of
short tokens (``pair_actions``: TowerOfHanoi ``[A C]``). That covers games whose moves are squares,
numbers, words or pairs of them (TicTacToe, 2048, Sokoban, LiarsDice, TowerOfHanoi...), not moves of
more parts in games without an oracle (Checkers ``[5 0 4 1]``): there, no candidate is legal and the first
candidate is played (and rejected) — give a harness with ``legal_actions`` for a true random baseline.

Verifier retry limit: the LLM gets ``retries`` re-prompts with an "illegal action" warning. After the limit
(counted in ``retry_exhausted``) the harness's own ``propose_action`` is played if its checker accepts it
(counted in ``fallback_moves``); otherwise the LLM's last proposal goes to the environment, which judges it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

from .envs.base import Env, legal_moves_of
from .errors import BadReply
from .llm.base import LLMClient, Message, Params
from .llm.extract import extract_action
from .sandbox.failures import HarnessFailure

RETRIES = 3
"""Default re-prompts per move for the verifier and filter agents."""

MAX_CANDIDATES = 300
"""Cap on candidate actions a probing agent tries per move (each probe is a clone + step)."""


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
        self._harness_on = False
        self.stats = AgentStats()

    def begin_match(self, env: Env, player: int, seed: int) -> None:
        """Reset stats, and the RNG from (match seed, seat): a match replays the same whatever ran before,
        in any order or thread (our own RNG, never the global one TextArena reseeds)."""
        self._rng = random.Random(f"{seed}:{player}")
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

    def _oracle_random(self) -> str | None:
        """A uniformly random move from the env's legal-move oracle; None when it has none this turn."""
        assert self._env is not None, "begin_match was not called"
        moves = legal_moves_of(self._env)
        return self._rng.choice(moves) if moves else None

    def _probe_random(self, observation: str) -> str:
        """A uniformly random legal move: from the env's oracle when it has one, else among candidates the
        environment accepts, found on clones."""
        move = self._oracle_random()
        if move is not None:
            return move
        assert self._env is not None
        candidates = candidate_actions(observation)
        self._rng.shuffle(candidates)
        for action in candidates[:MAX_CANDIDATES]:
            if self._env.clone().step(action).legal:
                return action
        pairs = pair_actions(observation)  # two-part moves: TowerOfHanoi's [A C], squares to squares
        for action in self._rng.sample(pairs, min(MAX_CANDIDATES, len(pairs))):
            if self._env.clone().step(action).legal:
                return action
        return candidates[0] if candidates else "[]"


_BRACKETED = re.compile(r"\[[^\[\]\n]{1,40}\]")
_TOKEN = re.compile(r"[A-Za-z0-9][\w-]{0,7}")


def candidate_actions(observation: str) -> list[str]:
    """Moves worth probing when nothing lists the legal ones: every bracketed string in the observation
    (rules examples, history) and every short token of it in brackets (board squares, numbers, words).
    Order of first appearance, no duplicates."""
    found = _BRACKETED.findall(observation) + [f"[{t}]" for t in _TOKEN.findall(observation)]
    return list(dict.fromkeys(found))


_SHORT = re.compile(r"\b[A-Za-z0-9]{1,2}\b")
MAX_PAIR_TOKENS = 40


def pair_actions(observation: str) -> list[str]:
    """Two-part moves worth probing once no single candidate is legal: every ordered pair of distinct short
    tokens (1-2 letters or digits: pegs, squares, coordinates) of the observation, as ``[a b]`` and
    ``[ab]``. The first ``MAX_PAIR_TOKENS`` distinct tokens, in order of appearance."""
    tokens = list(dict.fromkeys(_SHORT.findall(observation)))[:MAX_PAIR_TOKENS]
    return [f"[{a}{sep}{b}]" for a in tokens for b in tokens if a != b for sep in (" ", "")]


class RandomAgent(_Base):
    """Uniform over legal moves, taken from the first source that has them:

    1. the env's legal-move oracle (``envs.base.HasLegalMoves``, e.g. TextArena's own list in Chess);
    2. the harness's ``legal_actions`` (filter contract), when the agent was given a harness;
    3. probing candidate moves from the observation on env clones (``candidate_actions``, then
       ``pair_actions`` for two-part moves).
    """

    name = "random"

    def act(self, observation: str, player: int) -> str:
        move = self._oracle_random()
        if move is not None:
            return move
        if self._harness_on:
            assert self._harness is not None
            moves = self._call(self._harness.legal_actions, observation)
            if moves:
                return self._rng.choice(moves)
            if moves is not None:  # an empty list while the game goes on: the code is wrong here
                self.stats.harness_failures.append("legal_actions returned an empty list")
                self._harness_on = False
        return self._probe_random(observation)


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
        return self._probe_random(observation)


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
    "candidate_actions",
]
