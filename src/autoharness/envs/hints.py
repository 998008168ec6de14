"""Strip the lists of currently legal moves that TextArena shows players (the paper removed them).

What counts as a move list was found by reading every observation of all 145 games (first turn and after
random legal play; ``tests/envs`` re-checks it for each game). TextArena phrases it as one labelled line —
``Valid moves: [e2e4], ...``, ``Available Moves: ...``, ``Your options: ...``, ``Your available actions
are: ...``, ``Your possible actions: ...``, Golf's ``You must: [swap X Y] or [discard]`` — sometimes
followed by indented continuation lines.

Kept on purpose:

* the game's opening prompt (rules), including its *static* action vocabulary such as 2048's
  ``Valid moves: [Up], [Down], [Left], [Right]`` or Snake's ``Valid moves: '[up]'/'[down]'...``: that is
  the action *format*, which the agent needs. The one prompt that embeds a live list
  (SantoriniBaseFixed's) is stripped too.
* state the player legitimately sees even though it bounds the choices: a player's hand
  (GameOfPureStrategy, HighSociety, Golf's cards), board coordinates drawn in empty cells
  (UltimateTicTacToe, QuantumTicTacToe), Tak's stone counts (``Available Flat Stones: 15``).

``listed_moves`` reads the bracketed moves out of exactly the segments ``strip_move_lists`` removes: the
adapter's legal-move oracle (``TextArenaEnv.legal_moves``) for baselines and opponents, never the agent.
"""

from __future__ import annotations

import re

_LABEL = (
    r"(?:valid|available|legal|possible)[ \t]+(?:moves|actions)"
    r"|your[ \t]+(?:options|(?:available|possible|valid|legal)[ \t]+(?:actions|moves)(?:[ \t]+are)?)"
    r"|you[ \t]+must"
)
_LIST_LINE = re.compile(
    # the sender tag when the list is a message of its own
    r"(?:\[[^\]\n]{1,40}\] )?"
    # the label, an aside such as "(exact tokens)", the colon
    rf"[ \t]*(?:[-*•][ \t]*)?(?:{_LABEL})[ \t]*(?:\([^)\n]*\))?[ \t]*:"
    # the list: indented lines below a bare label, or the rest of the line
    r"(?P<moves>[ \t]*(?:\n[ \t]+\S[^\n]*)+|[^\n]*)",
    re.IGNORECASE,
)
"""A move list, matched at the start of a line."""

_KEYWORDS = ("valid", "available", "legal", "possible", "options", "must")
"""Words every label contains: ``in``/``find`` on them pick the few lines worth matching. A regex scanning
the whole text costs ~50 ns per character here, more than TextArena's own step for small games."""


_LIVE_LIST_IN_PROMPT = frozenset({"SantoriniBaseFixed-v0"})
"""Games whose opening prompt itself carries the current move list (found by the all-games test)."""


def _list_matches(text: str) -> list[re.Match[str]]:
    """The move lists of ``text`` (``_LIST_LINE`` matches at line starts, non-overlapping, in order)."""
    lower = text.lower()
    if len(lower) != len(text):  # 'İ'.lower() has two characters: keep positions aligned with ``text``
        lower = "".join(low if len(low := c.lower()) == 1 else c for c in text)
    words = [word for word in _KEYWORDS if word in lower]
    if not words:
        return []
    line_starts = set()
    for word in words:
        at = lower.find(word)
        while at != -1:
            line_starts.add(lower.rfind("\n", 0, at) + 1)
            at = lower.find(word, at + 1)
    matches, done_to = [], 0
    for start in sorted(line_starts):
        match = _LIST_LINE.match(text, start) if start >= done_to else None
        if match is not None:
            matches.append(match)
            done_to = match.end() + (start == 0 and text[match.end() : match.end() + 1] == "\n")
    return matches


def strip_move_lists(text: str) -> str:
    """``text`` without its move-list lines (and the indented lines of a list that starts below its label)."""
    matches = _list_matches(text)
    if not matches:
        return text
    kept, done_to = [], 0
    for match in matches:
        # drop the list with the newline before it (or after it, for a list with nothing kept above it)
        start = match.start()
        top = start == done_to  # the text starts here, or only lists were above
        kept.append(text[done_to : max(start - 1, done_to)])
        done_to = match.end() + (top and text[match.end() : match.end() + 1] == "\n")
    kept.append(text[done_to:])
    return "".join(kept)


_MOVE = re.compile(r"\[[^\[\]\n]+\]")


def listed_moves(text: str) -> list[str] | None:
    """The bracketed moves inside exactly the move lists ``strip_move_lists`` removes from ``text``, in
    order, without duplicates; None when ``text`` holds no move list. Only the list part after the label's
    colon is read (a sender tag such as ``[GAME]`` in front of the label is not a move)."""
    matches = _list_matches(text)
    if not matches:
        return None
    found = [move for match in matches for move in _MOVE.findall(match.group("moves"))]
    return list(dict.fromkeys(found))


def strips_prompt(game_id: str) -> bool:
    """Whether ``game_id``'s opening prompt holds a live move list (so the prompt is stripped too)."""
    return game_id in _LIVE_LIST_IN_PROMPT


__all__ = ["listed_moves", "strip_move_lists", "strips_prompt"]
