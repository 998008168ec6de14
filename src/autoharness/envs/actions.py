"""The legal moves of a game, asked of the game itself: exact where it lists them, else found on clones.

Every baseline and check that needs "a legal move here" or "no legal move exists here" goes through this
module, whatever the game: the random agent and the policy fallback, the random opponent of 2-player policy
training, dead-position detection in the learning loop, oracle probing and ``autoharness verify``.

API (all read-only on the env passed in: every move is tried on a fresh ``env.clone()``):

* ``legal_actions(env) -> list[str]`` — the distinct legal moves of the player to move, one spelling per
  distinct successor position (``successor_key``). Exact from the env's move-list oracle
  (``base.legal_moves_of``) where the game has one; otherwise every candidate the game accepts among those
  built from its own action format (``candidate_spaces``). ``[]`` = a dead position: no move is accepted.
* ``find_legal_actions(env) -> LegalActions`` — the same list plus how it was found: ``exact`` (oracle, or
  every candidate tried), the number of probes, and the candidate spaces that produced moves.
* ``is_dead(env) -> bool`` — no candidate is accepted (stops at the first accepted one; exact where
  ``legal_actions`` is). A game that is over is not "dead": ask only while the game goes on.
* ``random_legal_action(env, rng) -> str | None`` — one legal move, at random: uniform over the distinct
  moves when they are few enough to list (oracle, or small candidate spaces), else the first accepted
  candidate in a seeded random order (spaces that worked before in this match first). None: none found.
* ``successor_key(env, action)`` — what ``action`` leads to, as a hashable key, or None when the game
  rejects it. Two actions with the same key are the same move (``[col 3]``, ``[col 03]``): the key is the
  env's ``position_key()`` after the move where it has one (TextArena: the game's whole state minus its
  message log), else the next observation with the action's text blanked out; plus end-of-game and rewards.
* ``same_move(env, a, b) -> bool`` — both legal and leading to the same position.
* ``spelling_variants(action) -> list[str]`` — other spellings a game may read as the same move (leading
  zeros, spacing, case): what probing tries to tell a spelling from a move.
* ``candidate_spaces(observation) -> list[CandidateSpace]`` — the candidates, grouped by the generator that
  made them: ``shown`` (bracketed strings in the text: examples, hands, history), one ``template`` per
  bracketed example with parts to vary (``[2 1 3 2]``, ``[a2a3]``, ``[col 4]``, ``[bet X]``, ``[row col]``,
  ``[place () {(3,2): [C0]}]``: each number, board square or placeholder filled from the numbers, ranges
  and labels the text shows), ``tokens`` (short words, numbers, squares of the text in brackets) and
  ``pairs`` (two short tokens: ``[A C]``). Spaces are lazy: a template of 4 slots is never materialised.

Which spaces produced legal moves is remembered in the caller's ``SpaceRecord``, one per match (each
agent's ``begin_match``, each verification game), so later turns of the match try those first. That record
steers ``random_legal_action``'s pick (it lists the moves of the remembered spaces first), so it is never
shared between matches: a match's random moves depend on its seed and positions alone, not on what the
process or another thread played before (a process-wide record did: rollouts of 2-player policy training
met a different random opponent after other rollouts). Without a record (None) a call starts from none.

Positions met again are not probed again: ``find_legal_actions`` and the listing behind
``random_legal_action`` are memoized per process (``_KNOWN``) by the env's ``state_key`` (TextArena: a hash
of the game's entire state) and the observation — the same answer probing would give, found once.
Verification meets the same positions over and over (openings; TowerOfHanoi-v0 has 27 boards). The many
moves of one enumeration are tried on copies from the env's ``scratches()`` where it has it (TextArena: the
game pickled once, each copy unpickled; used only where that copy is exactly the game).

Cost (measured on this machine; clone + step ≈ 0.15–0.4 ms, Stratego 1.3 ms): a random move in the games
without an oracle takes ~1–100 ms; a full ``legal_actions`` up to ~1–3 s in the games with large spaces
(Checkers 4,096 candidates, Breakthrough ~4,000), and is capped at ``FULL_LIMIT`` probes per space and
``TOTAL_LIMIT`` overall (``exact`` False when a cap cut it short).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .base import Env, StepResult, legal_moves_of

FULL_LIMIT = 6000
"""Candidates of one space tried by a full enumeration (``legal_actions``, ``is_dead``)."""
TOTAL_LIMIT = 20000
"""Candidates tried by one full enumeration over all spaces."""
LIST_LIMIT = 400
"""``random_legal_action`` lists every move (then picks uniformly) when the spaces hold at most this many."""
SAMPLE_LIMIT = 3000
"""Candidates ``random_legal_action`` tries in random order before falling back to a full enumeration."""


@dataclass(frozen=True, slots=True)
class CandidateSpace(Sequence[str]):
    """Candidate actions of one generator: the product of ``parts`` (each a tuple of alternatives), lazily
    indexed, so a 4-slot template of 8 values each costs nothing until probed."""

    name: str
    parts: tuple[tuple[str, ...], ...]

    def __len__(self) -> int:
        return math.prod(len(p) for p in self.parts)

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        if not 0 <= index < len(self):
            raise IndexError(index)
        pieces = []
        for part in reversed(self.parts):
            index, at = divmod(index, len(part))
            pieces.append(part[at])
        return "".join(reversed(pieces))

    def __iter__(self) -> Iterator[str]:
        return ("".join(p) for p in itertools.product(*self.parts))


@dataclass(slots=True)
class LegalActions:
    """What ``find_legal_actions`` found: the moves, and how much to trust the list."""

    actions: list[str]
    exact: bool
    """From the env's oracle, or every candidate of every space was tried (no cap cut the search)."""
    probes: int = 0
    sources: list[str] = field(default_factory=list)
    """``oracle``, or the candidate spaces that produced moves."""


# -- comparing moves by the position they lead to ------------------------------------------------------


def _scratch(env: Env) -> Env:
    """A copy of ``env`` to try one move on: ``env.scratch()`` where the env has that cheaper copy."""
    scratch = getattr(env, "scratch", None)
    return scratch() if callable(scratch) else env.clone()


def successor_key(env: Env, action: str) -> Hashable | None:
    """The position ``action`` leads to, as a key; None when the game rejects it (on a clone)."""
    return _successor(env, action)[0]


def _successor(
    env: Env, action: str, scratch: Callable[[], Env] | None = None
) -> tuple[Hashable | None, Env, StepResult]:
    """``successor_key``, with the clone the action was played on and the step's result; ``scratch`` makes
    the copy (default ``_scratch(env)``)."""
    clone = scratch() if scratch is not None else _scratch(env)
    result = clone.step(action)
    if not result.legal:
        return None, clone, result
    rewards = tuple(sorted(result.rewards.items())) if result.rewards is not None else None
    return (result.done, rewards, _position(clone, result, action)), clone, result


def same_move(env: Env, a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are both legal here and lead to the same position (spellings of one move)."""
    key = successor_key(env, a)
    return key is not None and key == successor_key(env, b)


_LEADING_ZEROS = re.compile(r"(?<!\d)0+(?=\d)")


def spelling_variants(action: str) -> list[str]:
    """Other ways to write ``action`` that a game may read as the same move: leading zeros dropped
    (``[col 03]`` → ``[col 3]``), spacing normalised, case changed. Whether one *is* the same move is for
    ``same_move`` to say; this only proposes them (probing uses them to tell a spelling from a move)."""
    inner = action.strip()
    variants = [
        _LEADING_ZEROS.sub("", inner),
        " ".join(inner.split()),
        re.sub(r"\[\s+|\s+\]", lambda m: m.group().strip(), inner),
        inner.lower(),
        inner.upper(),
        inner.title(),
    ]
    return [v for v in dict.fromkeys(variants) if v != action]


def _position(clone: Env, result: object, action: str) -> Hashable:
    position = getattr(clone, "position_key", None)
    if callable(position):
        return position()
    turn = getattr(result, "next", None)
    if turn is None:
        return None
    return (turn.player, turn.observation.replace(action, "\x00"))


# -- the candidates --------------------------------------------------------------------------------------

_SENDER = re.compile(r"(?:GAME|Player \d+|[A-Z][a-z]+ [A-Z][a-z]+)")
_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9][\w+-]{0,7}(?![\w])")
_INT = re.compile(r"(?<![\w.])\d{1,4}(?![\w])")
_RANGE = re.compile(
    r"(?<![\w.])(?:between\s+(\d{1,4})(?:\.\d+)?\s+and|(\d{1,4})(?:\.\d+)?\s*(?:-|–|to|through))"
    r"\s*(\d{1,4})(?:\.\d+)?(?![\w])"
)
_LETTER = re.compile(r"(?<![\w'])([A-Za-z])(?![\w'])")
_SHORT = re.compile(r"\b[A-Za-z0-9]{1,2}\b")
_SLOT = re.compile(
    r"(?P<cell>(?<![A-Za-z])[A-Za-z]\d{1,2}(?!\d))"
    r"|(?P<num>\d{1,4}(?:\.\d+)?)"
    r"|(?P<ph>(?<![A-Za-z])[A-Z](?![A-Za-z0-9]))"
    r"|(?P<angle><[^<>]{1,20}>)"
)
_WORDS = re.compile(r"[a-z]+(?: +[a-z]+){1,3}")
_PLACEHOLDER_WORDS = ("row", "col", "pile", "quantity", "macro", "micro", "number")
MAX_SMALL = 30
"""Numbers up to this size in the text are board labels, counts and the like: their range is a domain."""
MAX_PAIR_TOKENS = 40


def bracketed(text: str, longest: int = 60) -> list[str]:
    """Every bracketed string of ``text`` (nested brackets kept whole: ``[place () {(3,2): [C0]}]``), at
    most ``longest`` characters, in order of first appearance, without sender tags such as ``[GAME]``."""
    found: dict[str, None] = {}
    depth, start = 0, -1
    for i, ch in enumerate(text):
        if ch == "[":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
            if depth == 0 and i - start + 1 <= longest:
                found[text[start : i + 1]] = None
        elif ch == "\n":
            depth = 0
    return [b for b in found if b[1:-1].strip() and not _SENDER.fullmatch(b[1:-1])]


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    """What a template's varying parts may take, read once per observation."""

    numbers: tuple[str, ...]
    """Plain number slots: the ranges the text states (``0 to 14``, ``1-11``, ``between 1 and 20``), its
    board labels and the small numbers of its bracketed strings (moves, examples: a game's message may read
    as a range, Chopsticks' "it goes from 2 to 3"); with no range stated, also the span of the small numbers
    it shows (counts)."""
    board_numbers: tuple[str, ...]
    """Ranks of board squares: the board's number labels, else its stated size (``8x8``), else 1-8."""
    lower: tuple[str, ...]
    upper: tuple[str, ...]
    """Files of board squares (and pegs, fields): single letters the text shows on their own."""
    caps: tuple[str, ...]
    """Letters of the text's capitalised words (``SEND + MORE``): what an ``X`` placeholder may be."""
    cells: tuple[str, ...]
    """Letter-number tokens the text shows (``N1``, ``F0``, ``e4``)."""
    lengths: tuple[int, ...]
    """List lengths the text states (``6 digits long``)."""


_LABEL_LINE = re.compile(r"^[ \t]*[A-Za-z]{0,2}[ \t]*(\d{1,2})(?![\d.,%/])", re.M)
_NUMBERS_LINE = re.compile(r"^[ \t]*\d{1,2}(?:[ \t]+\d{1,2}){2,}[ \t]*$", re.M)
_SIZE = re.compile(r"(?<!\d)(\d{1,2})[ \t]*[x×][ \t]*(\d{1,2})(?!\d)")
_LENGTH = re.compile(r"(?<!\d)(\d{1,2})[ \t]+(?:digits|numbers|values|pegs|colou?rs)\b", re.I)
_CAPS = re.compile(r"\b[A-Z]{3,12}\b")
_CELL = re.compile(r"[A-Za-z]\d{1,2}")


def _span(values: set[int]) -> set[int]:
    return set(range(min(values), max(values) + 1)) if values else set()


def _vocabulary(text: str) -> _Vocabulary:
    stated: set[int] = set()
    for between, low, high in _RANGE.findall(text):
        a, b = int(between or low), int(high)
        if a < b <= a + 200:
            stated.update(range(a, b + 1))
    labels = {int(n) for n in _LABEL_LINE.findall(text)}
    for line in _NUMBERS_LINE.findall(text):
        labels.update(int(n) for n in line.split())
    labels = _span(labels) if len(labels) >= 3 else set()
    sizes = [max(int(a), int(b)) for a, b in _SIZE.findall(text)]
    if labels:
        board = labels
    elif sizes:
        board = set(range(max(sizes) + 1))
    else:
        board = set(range(1, 9))
    small = _span({n for n in map(int, _INT.findall(text)) if n <= MAX_SMALL})
    numbers = stated | labels if stated else stated | labels | small | {n for n in board if sizes}
    if stated:  # a game's message can read as a range ("it goes from 2 to 3"): keep the actions' own numbers
        numbers |= {n for b in bracketed(text) for n in map(int, _INT.findall(b)) if n <= MAX_SMALL}
    if not numbers:
        numbers = set(range(10))
    letters = list(dict.fromkeys(_LETTER.findall(text)))
    files = max(len(board), 8) if not labels else len(board)
    lower = [c for c in letters if c.islower()] + [chr(ord("a") + i) for i in range(files)]
    upper = [c for c in letters if c.isupper()] + [chr(ord("A") + i) for i in range(files)]
    return _Vocabulary(
        numbers=tuple(str(n) for n in sorted(numbers)),
        board_numbers=tuple(str(n) for n in sorted(board)),
        lower=tuple(dict.fromkeys(lower)),
        upper=tuple(dict.fromkeys(upper)),
        caps=tuple(dict.fromkeys(c for word in _CAPS.findall(text) for c in word)),
        cells=tuple(dict.fromkeys(t for t in _TOKEN.findall(text) if _CELL.fullmatch(t))),
        lengths=tuple(sorted({int(n) for n in _LENGTH.findall(text) if 1 < int(n) <= 12})),
    )


def _template(example: str, vocab: _Vocabulary) -> list[CandidateSpace]:
    """The spaces of actions shaped like ``example`` (a bracketed string of the text), its numbers, squares
    and placeholders varied (a list of numbers also at the lengths the text states); none when nothing in
    it varies."""
    inner = example[1:-1]
    name = f"template {example}"
    numbers = vocab.numbers
    if _WORDS.fullmatch(inner):  # all placeholder words: [row col], [pile quantity], [macro micro]
        if not any(w in inner for w in _PLACEHOLDER_WORDS):
            return []  # a plain phrase ([rock paper]) is not a template
        return [_number_list(name, len(inner.split()), " ", numbers)]
    listed = _NUMBER_LIST.fullmatch(inner)
    if listed:  # [2 1 4 5], [0,4]: the same list at every length the text states
        parts = _NUMBER.split(inner)
        sep = parts[1] if len(parts) > 1 else " "
        count = len(_NUMBER.findall(inner))
        return [_number_list(f"{name} x{n}", n, sep, numbers) for n in dict.fromkeys((count, *vocab.lengths))]
    cells = [m.group() for m in _SLOT.finditer(inner) if m.group("cell")]
    vary_letters = len({c[0].lower() for c in cells}) < len(cells)  # [a2a3]: squares; [A4 B2 C2]: fields
    parts: list[tuple[str, ...]] = [("[",)]
    at = 0
    for m in _SLOT.finditer(inner):
        if m.start() > at:
            parts.append((inner[at : m.start()],))
        at = m.end()
        token = m.group()
        if m.group("cell"):
            letter = token[0]
            if vary_letters:
                files = vocab.lower if letter.islower() else vocab.upper
                squares = [f"{a}{n}" for a in files for n in vocab.board_numbers]
            else:
                squares = [f"{letter}{n}" for n in numbers]
            same_shape = [c for c in vocab.cells if c[0].isupper() == letter.isupper()]
            parts.append(tuple(dict.fromkeys([*squares, *same_shape])))
        elif m.group("num"):  # a coordinate of a "(3,2)" square is a board number, others any number
            square = inner[m.start() - 1 : m.start()] in ("(", ",") and _CLOSES.match(inner, m.end())
            parts.append(vocab.board_numbers if square else numbers)
        elif m.group("ph"):  # a placeholder: X, N, M
            parts.append(tuple(dict.fromkeys([*numbers, *vocab.upper, *vocab.caps])))
        else:  # <number>
            parts.append(numbers)
    if len(parts) == 1:
        return []
    if at < len(inner):
        parts.append((inner[at:],))
    parts.append(("]",))
    return [CandidateSpace(name, tuple(parts))]


_NUMBER = re.compile(r"\d{1,4}(?:\.\d+)?")
_CLOSES = re.compile(r" ?[,)]")
_NUMBER_LIST = re.compile(r"\d{1,4}(?:(?:, ?| )\d{1,4}){1,11}")


def _number_list(name: str, count: int, sep: str, numbers: tuple[str, ...]) -> CandidateSpace:
    parts: list[tuple[str, ...]] = [("[",)]
    for i in range(count):
        parts += [numbers] + ([(sep,)] if i < count - 1 else [])
    return CandidateSpace(name, (*parts, ("]",)))


_EXAMPLE_LINE = re.compile(
    r"^[ \t]*(\[[A-Za-z][^\[\]\n]{0,20}\][ \t]+[A-Za-z0-9][^\[\]\n]{0,40}?)[ \t]*$", re.M
)
"""A line that is an action with text after its bracket: NewRecruit's ``[Propose] CCAACCCC``."""


def candidate_spaces(observation: str) -> list[CandidateSpace]:
    """Candidate actions for ``observation``, by generator (see the module docstring), closest to the
    game's own spelling first: ``legal_actions`` keeps the first spelling of each move (``[col 3]`` from
    the example ``[col 4]``, not the bare ``[3]`` the parser also takes)."""
    shown = bracketed(observation)
    shown += [line for line in _EXAMPLE_LINE.findall(observation) if not _SENDER.match(line[1:])]
    tokens = [f"[{t}]" for t in dict.fromkeys(_TOKEN.findall(observation))]
    spaces = [CandidateSpace("shown", (tuple(shown),))]
    vocab = _vocabulary(observation)
    templates: dict[tuple[tuple[str, ...], ...], CandidateSpace] = {}
    for example in shown:
        for space in _template(example, vocab):
            templates.setdefault(space.parts, space)
    spaces += sorted(templates.values(), key=len)
    spaces.append(CandidateSpace("tokens", (tuple(t for t in tokens if t not in set(shown)),)))
    short = list(dict.fromkeys(_SHORT.findall(observation)))[:MAX_PAIR_TOKENS]
    spaces.append(CandidateSpace("pairs", (("[",), tuple(short), (" ", ""), tuple(short), ("]",))))
    return [s for s in spaces if len(s)]


# -- finding legal moves -------------------------------------------------------------------------------


class SpaceRecord:
    """Which candidate spaces produced legal moves, per game id: space name → how often it produced a legal
    move that the spaces before it did not (tried first next time, and alone while they keep producing
    moves). A space is named by its generator and, for templates, the example it was built from: the same
    across turns.

    One record per match (each agent's ``begin_match``, each verification game), never one per process: the
    record steers ``random_legal_action``'s pick, so a shared one made a match's random moves depend on what
    the process, or another thread at the same time, had played before."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, dict[str, int]] = {}

    def counts(self, game_id: str) -> dict[str, int]:
        """Space name → moves found there in game ``game_id`` (a copy: read-only)."""
        return dict(self._counts.get(game_id, {}))

    def remember(self, game_id: str, name: str) -> None:
        counts = self._counts.setdefault(game_id, {})
        counts[name] = counts.get(name, 0) + 1

    def ordered(self, game_id: str, spaces: list[CandidateSpace]) -> list[CandidateSpace]:
        """Spaces that produced moves in this game before first (most productive first), then the rest."""
        counts = self._counts.get(game_id, {})
        return sorted(spaces, key=lambda s: -counts.get(s.name, 0))


def _accepted(env: Env, action: str) -> bool:
    return _scratch(env).step(action).legal


def _observation(env: Env) -> str:
    turn = getattr(env, "current_observation", None)
    if callable(turn):
        return turn()
    raise TypeError(f"{type(env).__name__} cannot tell its current observation")


def find_legal_actions(
    env: Env, observation: str | None = None, record: SpaceRecord | None = None
) -> LegalActions:
    """Every legal move of the player to move (see ``legal_actions``), with how it was found; the spaces
    that produced them are noted in ``record`` (the match's; None: no record is kept).

    Remembered per game state (``_KNOWN``): the same position met again costs no probing."""
    oracle = legal_moves_of(env)
    if oracle:
        return LegalActions(list(dict.fromkeys(oracle)), exact=True, sources=["oracle"])
    text = observation if observation is not None else _observation(env)
    found = _memoized(env, ("all", text), lambda probe: _probe_all(probe, text), record)
    return LegalActions(list(found.actions), found.exact, found.probes, list(found.sources))


def _probe_all(probe: _Probe, text: str) -> tuple[LegalActions, list[str]]:
    """``find_legal_actions`` the long way: every candidate of ``text`` tried on a copy of the env; and the
    spaces to remember (``SpaceRecord``)."""
    by_position: dict[Hashable, str] = {}
    probes, exact, sources = 0, True, []
    tried: set[str] = set()
    for space in candidate_spaces(text):
        found = False
        for i, action in enumerate(space):
            if i >= FULL_LIMIT or probes >= TOTAL_LIMIT:
                exact = False
                break
            if action in tried:
                continue
            tried.add(action)
            probes += 1
            key = probe(action)
            if key is not None and key not in by_position:
                found = True
                by_position[key] = action
        if found:
            sources.append(space.name)
    return LegalActions(list(by_position.values()), exact, probes, sources), sources


class _Probe:
    """``successor_key`` on one env, noting whether any step crashed (the crash check replays the game's
    own history, so such a result is not reused for another game in the same state) and whether any step
    drew from the env's random generator (then the result holds only for that generator state)."""

    __slots__ = ("_best", "_kinds", "_spent", "calls", "drew", "env", "reusable")

    def __init__(self, env: Env) -> None:
        self.env, self.reusable, self.drew = env, True, False
        self.calls = 0
        self._kinds: list[Callable[[], Env] | None] = [None]
        """How copies are made: ``_scratch`` (None), then also the env's pickled copies."""
        self._spent = [[0.0, 0], [0.0, 0]]  # per kind: CPU seconds, probes
        self._best = 0

    def __call__(self, action: str) -> Hashable | None:
        self.calls += 1
        if self.calls == SCRATCHES_FROM:  # many moves from one position: try the env's pickled copies
            scratches = getattr(self.env, "scratches", None)
            pickled = scratches() if callable(scratches) else None
            if pickled is not None and pickled != getattr(self.env, "scratch", None):
                self._kinds.append(pickled)
        if len(self._kinds) == 1 or self.calls % (SCRATCH_EXPLORE // 2):
            key, clone, result = _successor(self.env, action, self._kinds[self._best])
        else:  # timed (this thread's CPU; reading it costs µs): the cheaper kind so far, or the other
            kind = self._best if self.calls % SCRATCH_EXPLORE else 1 - self._best
            started = time.thread_time()
            key, clone, result = _successor(self.env, action, self._kinds[kind])
            spent = self._spent[kind]
            spent[0] += time.thread_time() - started
            spent[1] += 1
            (deep, n_deep), (pickled_time, n_pickled) = self._spent
            if n_deep and n_pickled:
                self._best = 1 if pickled_time / n_pickled < deep / n_deep else 0
        if result.info.get("crash"):
            self.reusable = False
        if not self.drew:
            used = getattr(clone, "used_generator", None)
            self.drew = not callable(used) or used()
        return key


_KNOWN: OrderedDict[tuple[Hashable, ...], tuple[Any, tuple[str, ...], bytes | None]] = OrderedDict()
"""Probing results by (game id, what was asked — ``find_legal_actions`` or ``_listed`` — and of which
observation, the env's ``state_key`` without its generator, the limits) → the result, the spaces it
remembers (``SpaceRecord``) and, when finding it drew from the env's generator, the ``state_key`` with it
(then only an env in that generator state reuses it). Exact: equal keys mean an equal game state and equal
candidates, so the probes would find the same moves in the same order. Verification meets the same
positions again and again (every game of a board game starts alike; TowerOfHanoi-v0 has 27 boards); the
process keeps the ``KNOWN_SIZE`` most recent (0: nothing is kept)."""
KNOWN_SIZE = 4096
SCRATCHES_FROM = 16
"""From this probe of one enumeration on, copies may come from the env's ``scratches()`` where it has it
(TextArena: the game pickled once, each copy unpickled; setting it up costs a few copies' worth). 0: never.
Both kinds of copy play every move the same; which is cheaper depends on the game (Battleship-v0-extreme:
pickled ~1.8x; Minesweeper-v0: its steps are slower on unpickled objects, ~0.8x) and on the moves tried, so
from then on probes are made with the kind cheaper so far, one in ``SCRATCH_EXPLORE`` with the other; those
and as many of the others are timed (only they: reading a thread's CPU clock costs µs)."""
SCRATCH_EXPLORE = 16
_KNOWN_LOCK = threading.Lock()


def _memoized[T](
    env: Env,
    question: tuple[Hashable, ...],
    compute: Callable[[_Probe], tuple[T, list[str]]],
    record: SpaceRecord | None,
) -> T:
    """``compute(probe)`` (its value and the spaces it found moves in), or the value it had for an env in
    the same state; the spaces are remembered in ``record`` either way, as the computation would."""
    key = None
    state_key = getattr(env, "state_key", None)
    if KNOWN_SIZE and callable(state_key):
        state = state_key(generator=False)
        if state is not None:
            text = repr(question).encode()
            key = (env.id, hashlib.blake2b(text, digest_size=32).digest(), state, FULL_LIMIT, TOTAL_LIMIT)
    entry = None
    if key is not None:
        with _KNOWN_LOCK:
            entry = _KNOWN.get(key)
            if entry is not None:
                _KNOWN.move_to_end(key)
    if entry is not None and entry[2] is not None and entry[2] != state_key(generator=True):
        entry = None  # found with the generator in another state
    if entry is None:
        probe = _Probe(env)
        value, remembered = compute(probe)
        generator = state_key(generator=True) if key is not None and probe.drew else None
        entry = (value, tuple(remembered), generator)
        if key is not None and probe.reusable and (generator is not None or not probe.drew):
            with _KNOWN_LOCK:
                _KNOWN[key] = entry
                while len(_KNOWN) > KNOWN_SIZE:
                    _KNOWN.popitem(last=False)
    if record is not None:
        for name in entry[1]:
            record.remember(env.id, name)
    return entry[0]


def legal_actions(env: Env, observation: str | None = None, record: SpaceRecord | None = None) -> list[str]:
    """The distinct legal moves of the player to move; ``[]`` in a dead position (module docstring).

    ``observation`` is what the player to move sees (the current ``Turn.observation``); it defaults to the
    env's own ``current_observation()`` where it has one; ``record`` as in ``find_legal_actions``."""
    return find_legal_actions(env, observation, record).actions


def is_dead(env: Env, observation: str | None = None, record: SpaceRecord | None = None) -> bool:
    """No legal move exists for the player to move: the oracle lists none, or no candidate is accepted.

    Stops at the first accepted candidate, trying first the spaces that worked in this match (``record``;
    None: in the candidates' own order)."""
    oracle = legal_moves_of(env)
    if oracle:
        return False
    text = observation if observation is not None else _observation(env)
    record = record if record is not None else SpaceRecord()
    probes = 0
    for space in record.ordered(env.id, candidate_spaces(text)):
        for i, action in enumerate(space):
            if i >= FULL_LIMIT or probes >= TOTAL_LIMIT:
                break
            probes += 1
            if _accepted(env, action):
                record.remember(env.id, space.name)
                return False
    return True


def random_legal_action(
    env: Env, rng: random.Random, observation: str | None = None, record: SpaceRecord | None = None
) -> str | None:
    """A legal move at random (module docstring); None when none is found (a dead position, or a game
    whose moves the candidates do not reach). ``record`` is the match's (``SpaceRecord``): the spaces that
    produced moves in its earlier turns are tried first, and this turn's are added; None: a record of this
    one move only. The pick depends on the position, ``rng`` and ``record`` alone."""
    oracle = legal_moves_of(env)
    if oracle:
        return rng.choice(oracle)
    text = observation if observation is not None else _observation(env)
    record = record if record is not None else SpaceRecord()
    spaces = record.ordered(env.id, candidate_spaces(text))
    counts = record.counts(env.id)
    known = [s for s in spaces if counts.get(s.name)]
    for group in [known, spaces] if known else [spaces]:
        if sum(len(s) for s in group) <= LIST_LIMIT:  # few candidates: list the moves, pick uniformly
            moves = _listed(env, group, text, record)
        else:
            move = _sample(env, group, rng, SAMPLE_LIMIT, record)
            moves = [move] if move is not None else []
        if moves:
            return rng.choice(moves)
    for space in spaces:  # exhaustive, in order: a rare move the sampling missed
        for i, action in enumerate(space):
            if i >= FULL_LIMIT:
                break
            if _accepted(env, action):
                record.remember(env.id, space.name)
                return action
    return None


def _listed(env: Env, spaces: list[CandidateSpace], text: str, record: SpaceRecord) -> list[str]:
    """The distinct legal moves among every candidate of ``spaces`` (small ones: no caps), of the
    observation ``text`` (memoized like ``find_legal_actions``)."""
    names = tuple(space.name for space in spaces)
    return list(_memoized(env, ("listed", text, *names), lambda probe: _list_moves(probe, spaces), record))


def _list_moves(probe: _Probe, spaces: list[CandidateSpace]) -> tuple[list[str], list[str]]:
    by_position: dict[Hashable, str] = {}
    remembered = []
    for space in spaces:
        found = False
        for action in space:
            key = probe(action)
            if key is not None and key not in by_position:
                found = True
                by_position[key] = action
        if found:  # a space that only respells moves found already is not worth trying again
            remembered.append(space.name)
    return list(by_position.values()), remembered


def _sample(
    env: Env, spaces: list[CandidateSpace], rng: random.Random, budget: int, record: SpaceRecord
) -> str | None:
    """Try random candidates, each from a space drawn uniformly (a small space is not drowned by a big
    one), without repeats; the first the game accepts, or None after ``budget`` probes."""
    live = [(space, set()) for space in spaces if len(space)]  # type: list[tuple[CandidateSpace, set[int]]]
    for _ in range(budget):
        if not live:
            return None
        k = rng.randrange(len(live))
        space, seen = live[k]
        size = len(space)
        if len(seen) >= size:
            live.pop(k)
            continue
        index = rng.randrange(size)
        while index in seen:
            index = rng.randrange(size)
        seen.add(index)
        action = space[index]
        if _accepted(env, action):
            record.remember(env.id, space.name)
            return action
    return None


__all__ = [
    "CandidateSpace",
    "LegalActions",
    "SpaceRecord",
    "bracketed",
    "candidate_spaces",
    "find_legal_actions",
    "is_dead",
    "legal_actions",
    "random_legal_action",
    "same_move",
    "spelling_variants",
    "successor_key",
]
