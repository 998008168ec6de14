"""Code and action extraction from realistic, messy model replies."""

from __future__ import annotations

import ast
import time

import pytest

from autoharness.errors import BadReply
from autoharness.llm import extract_action, extract_code
from autoharness.llm.extract import MAX_REPLY_CHARS

REQ = ("propose_action", "is_legal_action")


def defs(code: str) -> list[str]:
    return [n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)]


def test_single_block_with_prose_around() -> None:
    reply = """Sure! Here is the harness for Tic-Tac-Toe.

```python
import re

def propose_action(obs: str) -> str:
    return "[4]"

def is_legal_action(obs: str, action: str) -> bool:
    return bool(re.fullmatch(r"\\[[0-8]\\]", action))
```

This checks the format first. Let me know if you need changes!"""
    code = extract_code(reply, REQ)
    assert code.startswith("import re")
    assert defs(code) == ["propose_action", "is_legal_action"]
    assert "Let me know" not in code


def test_functions_split_over_blocks_with_helper_block_are_merged_in_order() -> None:
    reply = """First some helpers:

```python
import numpy as np

BOARD_SIZE = 3

def parse_board(obs):
    return np.zeros((BOARD_SIZE, BOARD_SIZE))
```

Now the checker:

```python
def is_legal_action(obs, action):
    board = parse_board(obs)
    return board.sum() == 0
```

And the proposer:

```py
def propose_action(obs):
    return "[0]"
```

Example output:

```text
[0]
```"""
    code = extract_code(reply, REQ)
    assert defs(code) == ["parse_board", "is_legal_action", "propose_action"]
    assert "import numpy as np" in code and "[0]\n" not in code.split("def propose_action")[0]


def test_later_corrected_version_wins_over_draft() -> None:
    reply = """Draft:
```python
def propose_action(obs):
    return "[bad]"

def is_legal_action(obs, action):
    return True
```
Wait, `is_legal_action` always returns True, which is wrong. Corrected version:
```python
def propose_action(obs):
    return "[good]"

def is_legal_action(obs, action):
    return action.startswith("[")
```"""
    code = extract_code(reply, REQ)
    assert '"[good]"' in code and '"[bad]"' not in code
    assert code.count("def propose_action") == 1


def test_unfenced_code_after_prose_drops_trailing_prose() -> None:
    reply = """The problem was the off-by-one in the column check. Here is the fix.

import re
def propose_action(obs):
    return "[a1]"

def is_legal_action(obs, action):
    return re.fullmatch(r"\\[[a-h][1-8]\\]", action) is not None

This should now reject moves outside the board."""
    code = extract_code(reply, REQ)
    assert code.startswith("import re")
    assert code.rstrip().endswith("is not None")


def test_truncated_reply_keeps_complete_functions_and_drops_half_one() -> None:
    reply = """```python
def is_legal_action(obs, action):
    return action in legal_moves(obs)

def legal_moves(obs):
    moves = []
    for line in obs.splitlines():
        if line.startswith("Move"):
            moves.append(line.split()"""
    with pytest.raises(BadReply) as info:
        extract_code(reply, REQ)
    assert "`propose_action`" in str(info.value) and "cut off" in str(info.value)
    # Without the missing function requirement, the complete part is usable and the cut one is gone.
    code = extract_code(reply, ("is_legal_action",))
    assert defs(code) == ["is_legal_action"]


def test_truncated_mid_function_does_not_pass_for_whole_function() -> None:
    reply = """```python
def propose_action(obs):
    return "[1]"

def is_legal_action(obs, action):
    board = obs.split()
    if action not in board:"""
    with pytest.raises(BadReply, match="is_legal_action"):
        extract_code(reply, REQ)


def test_thinking_section_is_ignored() -> None:
    reply = """<think>
Maybe:
```python
def propose_action(obs): return "[draft]"
def is_legal_action(obs, action): return True
```
no, better check the digits.
</think>
```python
def propose_action(obs):
    return "[3]"

def is_legal_action(obs, action):
    return action.strip("[]").isdigit()
```"""
    code = extract_code(reply, REQ)
    assert "[draft]" not in code and "isdigit" in code


def test_reply_cut_inside_thinking_is_bad_reply() -> None:
    with pytest.raises(BadReply, match="<think>"):
        extract_code("<think>Let me consider the rules of chess. First", REQ)


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I'm sorry, I can't help with that.",
        "The move is legal if the square is empty. You should check that.",
        '```json\n{"action": "[4]"}\n```',
    ],
)
def test_no_code_is_bad_reply_fit_for_feedback(reply: str) -> None:
    with pytest.raises(BadReply) as info:
        extract_code(reply, REQ)
    message = str(info.value)
    assert "```python" in message and "`propose_action`" in message and "\n" not in message


def test_syntax_error_is_reported_with_line() -> None:
    reply = (
        "```python\ndef propose_action(obs)\n    return 1\n\ndef is_legal_action(obs, a):\n    return 1\n```"
    )
    with pytest.raises(BadReply, match=r"does not parse: line 1"):
        extract_code(reply, REQ)


def test_missing_function_is_named() -> None:
    reply = "```python\ndef propose_action(obs):\n    return '[1]'\n```"
    with pytest.raises(BadReply, match="does not define `is_legal_action`"):
        extract_code(reply, REQ)


def test_indented_fence_crlf_and_four_backticks() -> None:
    reply = (
        "1. Replace the file with:\r\n\r\n   ````python\r\n   def propose_action(obs):\r\n"
        "       return '[1]'\r\n\r\n   def is_legal_action(obs, action):\r\n       return True\r\n   ````\r\n"
    )
    assert defs(extract_code(reply, REQ)) == ["propose_action", "is_legal_action"]


def test_no_required_names_returns_last_usable_block() -> None:
    reply = "```python\nx = 1\n```\nthen\n```python\ny = 2\n```"
    assert extract_code(reply) == "y = 2"


@pytest.mark.parametrize(
    ("reply", "action"),
    [
        ("I will play [e2e4].", "[e2e4]"),
        ("Options: [e4] or [d4]. After thinking, I play **[d4]**", "[d4]"),
        ("See [the rules](https://example.com). My move: [3]", "[3]"),
        ("<think>maybe [0]</think>Final answer: [ 8 ]", "[8]"),
        ("[guess apple]", "[guess apple]"),
        ("no brackets here", None),
        ("empty [] and [ ] only", None),
        ("<think>I'd say [5] but let me check", None),
    ],
)
def test_extract_action(reply: str, action: str | None) -> None:
    assert extract_action(reply) == action


@pytest.mark.parametrize(
    "code",
    [
        "def propose_action(obs):\n    return " + "-" * 150_000 + "1\n",  # MemoryError in CPython's parser
        "def propose_action(obs):\n    return " + "(" * 300 + "1" + ")" * 300 + "\n",  # nesting limit
    ],
    ids=["parser-stack-overflow", "too-deeply-nested"],
)
def test_code_the_parser_gives_up_on_is_a_bad_reply_not_a_crash(code: str) -> None:
    with pytest.raises(BadReply, match="does not parse"):
        extract_code(f"```python\n{code}```", ("propose_action",))


# --- hostile sizes: bounded, linear-time extraction (issue 17, item 1) --------------------------------

GOOD_PAIR = "def propose_action(o):\n    return '[1]'\n\n\ndef is_legal_action(o, a):\n    return True\n"


def _timed(reply: str) -> tuple[float, str]:
    started = time.monotonic()
    try:
        result = "code:" + extract_code(reply, REQ)
    except BadReply as exc:
        result = "bad:" + str(exc)
    return time.monotonic() - started, result


@pytest.mark.parametrize(
    "tail",
    ["y = = 1\n", "x = (\n", "def f(:\n", "@decorator\n", "else:\n", "    stray indent\n"],
    ids=["broken", "open-paren", "bad-def", "decorators", "else", "indent"],
)
def test_code_then_a_long_broken_tail_is_linear(tail: str) -> None:
    """Up to the size cap, a reply of good code then broken lines: the old line-by-line search took
    ~10 s at 64 KB and grew with the square of the size; now the whole cap takes well under that."""
    reply = "```python\n" + GOOD_PAIR + tail * ((MAX_REPLY_CHARS - 200) // len(tail))
    seconds, result = _timed(reply)
    assert seconds < 8, seconds
    assert result.startswith(("code:", "bad:"))
    if tail != "    stray indent\n":  # an indented tail may belong to the last function: dropped with it
        assert result.startswith("code:") and defs(result[5:]) == list(REQ), result[:200]


@pytest.mark.parametrize(
    "reply",
    [
        "```python\n" + "def f(:\n" * 1_000_000,
        "import os\n" + "x = (\n" * 1_000_000,
        "```python\n" + GOOD_PAIR + "x = 1\n" * 1_000_000,
        "word " * 10_000_000,
    ],
    ids=["fenced", "unfenced", "valid-but-huge", "prose-50MB"],
)
def test_a_huge_reply_is_a_bad_reply_at_once(reply: str) -> None:
    seconds, result = _timed(reply)
    assert seconds < 5, seconds
    assert result.startswith("bad:"), result[:200]
    if len(reply) > MAX_REPLY_CHARS and not reply.startswith("word"):
        assert f"over the {MAX_REPLY_CHARS:,}" in result


def test_reasoning_does_not_count_against_the_cap() -> None:
    reply = "<think>" + "hmm " * MAX_REPLY_CHARS + "</think>\n```python\n" + GOOD_PAIR + "```"
    seconds, result = _timed(reply)
    assert seconds < 5 and result.startswith("code:")


def test_a_multiline_string_at_column_zero_stays_one_statement() -> None:
    body = "\n".join(f"line {i} of the prompt" for i in range(300))
    reply = f'```python\nTEMPLATE = """\n{body}\n"""\n{GOOD_PAIR}x = (\n'
    code = extract_code(reply, REQ)
    assert "line 299 of the prompt" in code and defs(code) == list(REQ)
