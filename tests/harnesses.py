"""Hand-written correct harnesses for real games, used where a test needs a harness that knows the rules
(given to the loop through the scripted fake LLM, or to ``eval`` as a file). Test code, not product."""

from __future__ import annotations

BREAKTHROUGH_VERIFIER = '''
import re
import zlib


def _board(obs):
    """(rows by rank number, size) from the last board in the observation; rank 1 is White's home row."""
    rows = {}
    for line in obs.splitlines():
        m = re.match(r"^\\s*(\\d+) \\|((?: [WB.])+)\\s*$", line)
        if m:
            rank = int(m.group(1))
            if rank in rows and rank == max(rows):  # a new board starts: keep only the latest
                rows = {}
            rows[rank] = m.group(2).split()
    return rows, len(rows)


def _moves(obs):
    rows, size = _board(obs)
    white = obs.rfind("You are playing White") >= obs.rfind("You are playing Black")
    me, foe, step = ("W", "B", 1) if white else ("B", "W", -1)
    files = "abcdefghijklmnop"[:size]
    moves = []
    for rank, cells in rows.items():
        for col, cell in enumerate(cells):
            if cell != me:
                continue
            to = rank + step
            if to not in rows:
                continue
            for dc in (0, -1, 1):
                c = col + dc
                if not 0 <= c < size:
                    continue
                target = rows[to][c]
                if (dc == 0 and target == ".") or (dc != 0 and target == foe):
                    moves.append(f"[{files[col]}{rank}{files[c]}{to}]")
    return moves


def propose_action(obs):
    moves = _moves(obs)
    return moves[zlib.crc32(obs.encode() + b"3") % len(moves)] if moves else "[a1a2]"


def is_legal_action(obs, action):
    return action.strip().lower() in _moves(obs)
'''
"""Breakthrough (any size): the exact rules; proposes one of the legal moves, picked by a hash of the
observation (deterministic, yet varied enough for exploration to reach many positions). With this hash,
3 of the 10 training games of run seed 3 reach a position where a player has no legal move at all."""

LINES_OF_ACTION_POLICY = '''
import re

DIRS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def _board(obs):
    """8x8 grid, row 0 = rank 8, from the last board printed."""
    grid, rows = None, []
    for line in obs.splitlines():
        m = re.match(r"^(\\d) \\|(.*)\\| \\d$", line)
        if m:
            rows.append([cell.strip() for cell in m.group(2).split("|")])
            if len(rows) == 8:
                grid, rows = rows, []
    return grid


def _line_count(grid, r, c, dr, dc):
    count = 1
    for sign in (1, -1):
        nr, nc = r + sign * dr, c + sign * dc
        while 0 <= nr < 8 and 0 <= nc < 8:
            count += bool(grid[nr][nc])
            nr, nc = nr + sign * dr, nc + sign * dc
    return count


def _moves(grid, me, foe):
    out = []
    for r in range(8):
        for c in range(8):
            if grid[r][c] != me:
                continue
            for dr, dc in DIRS:
                n = _line_count(grid, r, c, dr, dc)
                tr, tc = r + n * dr, c + n * dc
                if not (0 <= tr < 8 and 0 <= tc < 8) or grid[tr][tc] == me:
                    continue
                if any(grid[r + k * dr][c + k * dc] == foe for k in range(1, n)):
                    continue
                out.append((r, c, tr, tc))
    return out


def _spread(grid, me, move):
    r, c, tr, tc = move
    mine = [(i, j) for i in range(8) for j in range(8) if grid[i][j] == me]
    pieces = [p for p in mine if p != (r, c)] + [(tr, tc)]
    mr = sum(p[0] for p in pieces) / len(pieces)
    mc = sum(p[1] for p in pieces) / len(pieces)
    return sum(max(abs(p[0] - mr), abs(p[1] - mc)) for p in pieces)


def _mine(obs):
    grid = _board(obs)
    m = re.search(r"Your pieces are '(\\w)'", obs)
    me = m.group(1) if m else "O"
    return grid, me, (_moves(grid, me, "X" if me == "O" else "O") if grid else [])


def _text(move):
    r, c, tr, tc = move
    return f"[{'abcdefgh'[c]}{8 - r}{'abcdefgh'[tc]}{8 - tr}]"


def propose_action(obs):
    grid, me, moves = _mine(obs)
    return _text(min(moves, key=lambda mv: _spread(grid, me, mv))) if moves else "[a1a2]"


def is_legal_action(obs, action):
    return action.strip().lower() in {_text(mv) for mv in _mine(obs)[2]}
'''
"""LinesOfAction: legal moves from the rules, greedily pulling its pieces together (no lookahead)."""


OTHELLO_VERIFIER = '''
import re

_MOVE = re.compile(r"\\[\\s*(\\d+)\\s*,?\\s*(\\d+)\\s*\\]")
_DIRS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def _state(obs):
    """(my colour, the last board printed as rows of cells)."""
    me = "B" if obs.rfind("playing Black") > obs.rfind("playing White") else "W"
    board = obs.rsplit("Game Board:", 1)[-1]
    rows = [line.split("|")[1:-1] for line in board.splitlines() if re.match(r"^\\d+\\|", line)]
    return me, rows


def legal_actions(obs):
    me, rows = _state(obs)
    foe = "W" if me == "B" else "B"
    n = len(rows)
    moves = []
    for r in range(n):
        for c in range(n):
            if rows[r][c] != ".":
                continue
            for dr, dc in _DIRS:
                i, j, flanked = r + dr, c + dc, 0
                while 0 <= i < n and 0 <= j < n and rows[i][j] == foe:
                    i, j, flanked = i + dr, j + dc, flanked + 1
                if flanked and 0 <= i < n and 0 <= j < n and rows[i][j] == me:
                    moves.append(f"[{r}, {c}]")
                    break
    return moves


def propose_action(obs):
    moves = legal_actions(obs)
    return moves[0] if moves else "[0, 0]"


def is_legal_action(obs, action):
    m = _MOVE.search(action)
    return bool(m) and f"[{int(m.group(1))}, {int(m.group(2))}]" in legal_actions(obs)
'''
"""Othello (any size): the flanking rule on the last board printed, the game's own move pattern (searched
anywhere in the action, as the game does); proposes the first legal move. Verified on 40 held-out positions
with 0 disagreements, but short of legal rate 1.0 (0.982 on the learner's training seeds of run seed 0): it
goes wrong after the game's "No valid moves – you may have to skip" message, where the last board printed is
not the position the game plays from."""

SLOW_POLICY = """import itertools
import time

_moves = itertools.cycle(["[up]", "[left]", "[down]", "[right]"])


def propose_action(obs):
    time.sleep(0.1)
    return next(_moves)


def is_legal_action(obs, action):
    return True
"""
"""A 2048 policy that is slow on purpose: each move takes 0.1 s, so no game ends within a short budget."""
