"""Test-side knowledge of the games: candidate actions to probe for legality, and a move-list detector.

Nothing here is used by the package: the adapter must not know the legal moves, the tests need some to
play. Candidates come from TextArena's own move lists (a twin env made with ``keep_move_lists=True``), the
bracketed examples in the text, and per-family generators of well-formed actions; each candidate is tried
on a clone, so a wrong guess costs nothing.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable

_TOKEN = re.compile(r"\[[^\[\]\n]{1,60}\]")

_LABEL = re.compile(
    r"(?:valid|available|legal|possible)\s+(?:moves|actions)|your\s+options|you\s+must:", re.I
)


def move_list_lines(text: str) -> list[str]:
    """Lines that look like a list of moves: a move/action label with a list after it.

    Independent of the adapter's stripping rules (label anywhere in the line; a list is ≥ 2 bracketed
    tokens or ≥ 2 commas after the label, or a label ending the line with a colon).
    """
    hits = []
    for line in text.split("\n"):
        match = _LABEL.search(line)
        if match is None:
            continue
        rest = line[match.end() :]
        if (
            len(_TOKEN.findall(rest)) >= 2
            or (match.group().endswith(":") and _TOKEN.search(rest))
            or rest.count(",") >= 2
            or rest.rstrip().endswith(":")
        ):
            hits.append(line)
    return hits


def live_lists_in_rules(rules: str) -> list[str]:
    """Move-list lines in a game's opening prompt that are too long to be its static action vocabulary.

    Prompts may state the vocabulary (2048's four directions, Poker's five betting actions); a list
    of more than five moves there is a snapshot of the current legal moves.
    """
    return [line for line in move_list_lines(rules) if len(_TOKEN.findall(line)) > 5]


def _cells(cols: str, rows: range) -> list[str]:
    return [f"{c}{r}" for c in cols for r in rows]


def _pairs(cells: list[str], sep: str) -> list[str]:
    return [f"[{a}{sep}{b}]" for a, b in itertools.permutations(cells, 2)]


def _steps(size: int) -> list[str]:
    """Breakthrough-style one-square moves (``[a2a3]``) on a board of ``size``."""
    cols = "abcdefghij"[:size]
    out = []
    for ci, c in enumerate(cols):
        for r in range(1, size + 1):
            for dc, dr in itertools.product((-1, 0, 1), (-1, 1)):
                if 0 <= ci + dc < size and 1 <= r + dr <= size:
                    out.append(f"[{c}{r}{cols[ci + dc]}{r + dr}]")
    return out


def _lines_of_action(_: str) -> list[str]:
    cells = _cells("abcdefgh", range(1, 9))
    return [
        f"[{a}{b}]"
        for a, b in itertools.permutations(cells, 2)
        if a[0] == b[0] or a[1] == b[1] or abs(ord(a[0]) - ord(b[0])) == abs(int(a[1]) - int(b[1]))
    ]


def _blotto(obs: str) -> list[str]:
    units = int(re.search(r"allocate exactly (\d+) units", obs).group(1))
    fields = re.search(r"across fields: ([A-Z, ]+)", obs).group(1).replace(" ", "").split(",")
    rng = random.Random(units)
    out = []
    for _ in range(20):
        cuts = sorted(rng.randint(0, units) for _ in range(len(fields) - 1))
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, units], strict=True)]
        out.append("[" + " ".join(f"{f}{n}" for f, n in zip(fields, parts, strict=True)) + "]")
    return out


def _mastermind(obs: str) -> list[str]:
    length, top = map(int, re.search(r"(\d+) digits long, each digit from 1 to (\d+)", obs).groups())
    rng = random.Random(length * top)
    return ["[" + " ".join(map(str, rng.sample(range(1, top + 1), length))) + "]" for _ in range(30)]


def _santorini(obs: str) -> list[str]:
    board = obs.rsplit("Legend", 1)[0]  # the latest board drawn
    rows = [line for line in board.split("\n") if re.match(r"^[A-E] │", line)][-5:]
    workers = {}
    for line in rows:
        for col, cell in enumerate(line.split("│")[1:6], start=1):
            if (name := cell.strip()[1:].strip()) and name[0] in "NW":
                workers[name] = f"{line[0]}{col}"
    out = []
    for name, (r, c) in workers.items():
        for dr, dc, br, bc in itertools.product((-1, 0, 1), repeat=4):
            dst = (chr(ord(r) + dr), int(c) + dc)
            build = (chr(ord(dst[0]) + br), dst[1] + bc)
            if "A" <= dst[0] <= "E" and 1 <= dst[1] <= 5 and "A" <= build[0] <= "E" and 1 <= build[1] <= 5:
                out.append(f"[{name}{r}{c}{dst[0]}{dst[1]}{build[0]}{build[1]}]")
    return out


def _tak(obs: str) -> list[str]:
    stone = "F0" if "You are Player 0" in obs else "F1"
    return [f"[place () {{({r},{c}): [{stone}]}}]" for r in range(6) for c in range(6)]


_GRID = [f"[{i} {j}]" for i in range(16) for j in range(16)]
_GENERATORS: dict[str, Callable[[str], list[str]]] = {
    "Alquerque": lambda _: _pairs(_cells("abcde", range(1, 6)), " "),
    "Bandit": lambda obs: [
        f"[{b.strip()}]" for b in re.search(r"buttons: ([a-z, ]+)\.", obs).group(1).split(",")
    ],
    "Battleship": lambda _: [f"[{r}{c}]" for r in "ABCDEFGHIJKLMNOPQRST" for c in range(20)],
    "Breakthrough": lambda obs: _steps(int(re.search(r"on an (\d+)x", obs).group(1))),
    "Briscola": lambda _: [f"[play {i}]" for i in range(1, 4)],
    "Checkers": lambda _: [
        f"[{r} {c} {r + dr} {c + dc}]"
        for r in range(8)
        for c in range(8)
        for dr in (-2, -1, 1, 2)
        for dc in (-abs(dr), abs(dr))
    ],
    "Chess": lambda _: [f"[{a}{b}]" for a, b in itertools.permutations(_cells("abcdefgh", range(1, 9)), 2)],
    "Chopsticks": lambda _: (
        [f"[attack {m} {o}]" for m in (0, 1) for o in (0, 1)]
        + [f"[split {a} {b}]" for a in range(5) for b in range(5)]
    ),
    "ColonelBlotto": _blotto,
    "Cryptarithm": lambda obs: [
        f"[{ch} {d}]"
        for ch in sorted(set(re.search(r"([A-Z]+ \+ [A-Z ]+=[A-Z ]+)", obs).group(1)) - set(" +="))
        for d in range(10)
    ],
    "GermanWhist": lambda _: [f"[play {i}]" for i in range(1, 14)],
    "Golf": lambda _: (
        ["[draw]", "[take]", "[discard]", "[knock]"]
        + [f"[swap {r} {c}]" for r in range(1, 4) for c in range(1, 4)]
    ),
    "LinesOfAction": _lines_of_action,
    "Mastermind": _mastermind,
    "NewRecruit": lambda _: ["[Accept]", "[Reject]", "[Propose] ABCDEABC", "[Propose] CCAACCCC"],
    "PegJump": lambda _: [f"[{i} {j}]" for i in range(1, 16) for j in range(1, 16)],
    "QuantumTicTacToe": lambda _: [f"[{a},{b}]" for a, b in itertools.permutations(range(9), 2)],
    "RushHour": lambda _: [f"[{c}{d}]" for c in "ABCDEFGHIJKLMNOX" for d in "+-"],
    "SantoriniBaseFixed": _santorini,
    "Sudoku": lambda _: [f"[{r} {c} {n}]" for r in range(1, 10) for c in range(1, 10) for n in range(1, 10)],
    "Tak": _tak,
    "TowerOfHanoi": lambda _: [f"[{a} {b}]" for a, b in itertools.permutations("ABC", 2)],
}
_GENERIC = [f"[{i}]" for i in range(100)] + _GRID + [f"[{i}, {j}]" for i in range(16) for j in range(16)]


def candidates(game_id: str, observation: str, raw_observation: str, rng: random.Random) -> list[str]:
    """Actions worth probing, most promising first (TextArena's own listed moves lead)."""
    listed = [t for line in move_list_lines(raw_observation) for t in _TOKEN.findall(line)]
    examples = _TOKEN.findall(raw_observation)
    family = game_id.split("-", 1)[0]
    generated = _GENERATORS[family](observation) if family in _GENERATORS else list(_GENERIC)
    pools = [listed, examples, generated]
    for pool in pools:
        rng.shuffle(pool)
    return list(dict.fromkeys(itertools.chain.from_iterable(pools)))
