"""Pull usable code (for the learner) or an action (for test-time agents) out of messy model replies.

Models wrap code in prose, split it over several fenced blocks, repeat a "fixed" version after a draft,
think aloud in ``<think>`` tags, forget the fence, or get cut off mid-function. ``extract_code`` copes
with all of these and, when nothing usable is left, raises ``BadReply`` whose message is written to be
sent back to the model as feedback.

Every step is linear in the reply's length, and a reply longer than ``MAX_REPLY_CHARS`` (after its
reasoning sections are dropped) is refused as a bad reply before any parsing: a harness is a few
hundred lines, and the parser's time and memory grow with the size of the code.
"""

from __future__ import annotations

import ast
import itertools
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import BadReply

MAX_REPLY_CHARS = 200_000  # ~50,000 tokens of code, far above any harness; reasoning sections not counted

_THINK = re.compile(r"<think(?:ing)?>.*?(?:</think(?:ing)?>|\Z)", re.DOTALL | re.IGNORECASE)
_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+#.-]*)[^\n]*$")
_PY_LANGS = {"", "python", "py", "python3", "py3"}
# A line that can start Python code in unfenced prose.
_CODE_START = re.compile(r"^(?:import \w|from [\w.]+ import |def \w+\s*\(|class \w+|@\w|[A-Z_][A-Z0-9_]* = )")


@dataclass(frozen=True, slots=True)
class _Block:
    code: str
    lang: str
    closed: bool


def _strip_thinking(reply: str) -> str:
    """Drop reasoning sections: drafts inside them are not the answer (an unclosed one runs to the end)."""
    return _THINK.sub("", reply.replace("\r\n", "\n"))


def _fenced_blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m["fence"], m["lang"].lower()
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and stripped.strip(fence[0]) == "":
                closed = True
                break
            body.append(lines[j])
            j += 1
        blocks.append(_Block(textwrap.dedent("\n".join(body)).strip("\n"), lang, closed))
        i = j + 1
    return blocks


def _longest_parsing_prefix(code: str) -> str | None:
    """The longest run of whole top-level statements from the start that parses (drops a cut-off or
    prose tail).

    A statement cut off mid-body is dropped whole: a half function must not pass for a whole one. Linear
    time: a scanner splits the text once into top-level statements (a multi-line string or bracket is
    one statement), each is parsed about once, and the first that does not parse (or that the scanner
    could not finish) ends the prefix.
    """
    code = code.rstrip()
    lines = code.split("\n")
    starts, continued, finished = _statement_starts(code)
    bounds = [*starts, len(lines)] if finished else starts
    end = 0
    for group in _groups(bounds, lines):
        if _parses(lines[group[0] : group[-1]]):
            end = group[-1]
            continue
        for first, stop in itertools.pairwise(group):  # find the statement that breaks the group
            if not _parses(lines[first:stop]):
                # A stray top-level ``else:`` (or a broken one) may be what breaks it: try cutting there.
                inner = [row for row in continued if first < row < stop]
                cuts = sorted({*inner[:2], *inner[-2:]}, reverse=True)
                end = next((cut for cut in cuts if _parses(lines[first:cut])), end)
                break
            end = stop
        break
    candidate = "\n".join(lines[:end]).rstrip()
    return candidate if candidate.strip() else None


_GROUP_CHARS = 8192


def _groups(bounds: list[int], lines: list[str]) -> Iterator[list[int]]:
    """Consecutive statement bounds in runs of about ``_GROUP_CHARS``: parsing a run at once spares one
    parser call per statement, and only a run that fails is parsed statement by statement."""
    group = bounds[:1]
    size = 0
    for stop in bounds[1:]:
        group.append(stop)
        size += sum(len(line) + 1 for line in lines[group[-2] : stop])
        if size >= _GROUP_CHARS:
            yield group
            group, size = [stop], 0
    if len(group) > 1:
        yield group


def _parses(lines: list[str]) -> bool:
    try:
        _parse("\n".join(lines))
    except SyntaxError:
        return False
    return True


# Top-level lines that continue the statement before them rather than start a new one.
_CONTINUES = re.compile(r"(?:else|elif|except|finally)\b")
_INTERESTING = re.compile(r"[\n#\\()\[\]{}'\"]")


def _string_end(quote: str) -> re.Pattern[str]:
    """The rest of a string literal after its opening ``quote`` (escapes honoured; a one-quote string
    ends at its line's end unless the newline is escaped)."""
    q = re.escape(quote[0])
    if len(quote) == 3:
        return re.compile(rf"[^{q}\\]*(?:(?:\\.|{q}(?!{q}{q}))[^{q}\\]*)*{q}{q}{q}", re.DOTALL)
    return re.compile(rf"[^{q}\\\n]*(?:\\.[^{q}\\\n]*)*{q}", re.DOTALL)


_STRING_END = {quote: _string_end(quote) for quote in ("'", '"', "'''", '"""')}


def _statement_starts(code: str) -> tuple[list[int], list[int], bool]:
    """0-based indices of the lines where top-level statements start (the first always counts), of the
    top-level lines that continue one (``else:`` ...), and whether the scan reached the end with every
    string and bracket closed (if not, the text after the last start is unfinished).

    A small scanner rather than ``tokenize``: it only needs brackets, strings, comments and line
    continuations, and stays linear where CPython 3.12's tokenizer is quadratic in a line's length.
    """
    starts: list[int] = [0]
    continued: list[int] = []
    depth, row, pos, decorated, line_begins = 0, 0, 0, False, True
    while True:
        if line_begins:
            line_begins = False
            first = code[pos : pos + 1]
            if first and first not in " \t\n#":
                if _CONTINUES.match(code, pos):
                    continued.append(row)
                elif not decorated and row != starts[-1]:
                    starts.append(row)
                decorated = first == "@"
        found = _INTERESTING.search(code, pos)
        if found is None:
            return starts, continued, depth == 0
        char, pos = found.group(), found.end()
        if char == "\n":
            row += 1
            line_begins = depth == 0
        elif char == "#":
            newline = code.find("\n", pos)
            pos = len(code) if newline < 0 else newline
        elif char == "\\":
            if code.startswith("\n", pos):  # an explicit continuation: the next line starts nothing
                pos, row = pos + 1, row + 1
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        else:
            quote = char * 3 if code.startswith(char * 2, pos) else char
            pos += len(quote) - 1
            end = _STRING_END[quote].match(code, pos)
            if end is None:
                return starts, continued, False
            row += code.count("\n", pos, end.end())
            pos = end.end()


def _unfenced_code(text: str) -> str | None:
    lines = text.split("\n")
    for start, line in enumerate(lines):
        if _CODE_START.match(line):
            return _longest_parsing_prefix("\n".join(lines[start:]))
    return None


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _functions(tree: ast.Module) -> set[str]:
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def _used(tree: ast.Module) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _feedback_names(required: tuple[str, ...]) -> str:
    return ", ".join(f"`{name}`" for name in required) if required else "the code"


def _parse_candidates(blocks: list[_Block]) -> list[tuple[_Block, ast.Module]]:
    """Python-looking blocks that parse; a cut-off last block keeps its complete leading part."""
    parsed: list[tuple[_Block, ast.Module]] = []
    for block in blocks:
        if block.lang not in _PY_LANGS or not block.code.strip():
            continue
        code = block.code
        try:
            tree = _parse(code)
        except SyntaxError:
            if block.closed:
                continue
            prefix = _longest_parsing_prefix(code)
            if prefix is None:
                continue
            code, tree = prefix, _parse(prefix)
        parsed.append((_Block(code, block.lang, block.closed), tree))
    return parsed


def _select(parsed: list[tuple[_Block, ast.Module]], required: tuple[str, ...]) -> list[int]:
    """Indices of the blocks to keep: the latest definition of each required function, plus the blocks
    that define helpers those use (a model often puts imports or helpers in a block of their own)."""
    chosen: list[int] = []
    missing = set(required)
    for idx in range(len(parsed) - 1, -1, -1):
        funcs = _functions(parsed[idx][1])
        if funcs & missing:
            chosen.append(idx)
            missing -= funcs
    if not chosen:
        return []
    defined = set().union(*(_defined(parsed[i][1]) for i in chosen))
    wanted = set().union(*(_used(parsed[i][1]) for i in chosen)) - defined
    for idx in range(len(parsed) - 1, -1, -1):
        if idx in chosen:
            continue
        provides = _defined(parsed[idx][1]) & wanted
        if provides:
            chosen.append(idx)
            wanted -= provides
            wanted |= _used(parsed[idx][1]) - _defined(parsed[idx][1]) - defined
    return sorted(chosen)


def extract_code(reply: str, required: tuple[str, ...] = ()) -> str:
    """Return the Python code in ``reply`` that defines every function named in ``required``.

    Fenced blocks are preferred (``python``/``py`` or unlabelled; other languages are ignored). When
    several blocks define a required function, the last one wins (models put the corrected version last);
    blocks that define helpers or imports the chosen code uses are merged in, in reply order. Without
    fences, code is found from its first ``def``/``import``/``class`` line. A reply cut off mid-code keeps
    its complete leading part. With ``required`` empty, the last usable block is returned.

    Raises ``BadReply`` (message meant as feedback to the model) when no code defines what is required.
    """
    text = _strip_thinking(reply)
    names = _feedback_names(required)
    ask = f"answer with the complete code in one ```python block defining {names}"
    if not text.strip():
        if reply.strip():
            raise BadReply(f"the reply ended inside its <think> section, before any code; {ask}")
        raise BadReply(f"the reply was empty; {ask}")
    if len(text) > MAX_REPLY_CHARS:
        raise BadReply(
            f"the reply is {len(text):,} characters, over the {MAX_REPLY_CHARS:,} this tool reads for code; "
            f"{ask}, and nothing else"
        )
    blocks = _fenced_blocks(text)
    truncated = bool(blocks) and not blocks[-1].closed
    parsed = _parse_candidates(blocks)
    if not parsed:
        loose = _unfenced_code(text)
        if loose is not None:
            parsed = [(_Block(loose, "", True), _parse(loose))]
    if not parsed:
        broken = [b for b in blocks if b.lang in _PY_LANGS and b.code.strip()]
        if broken:
            raise BadReply(f"the code does not parse: {_syntax_error(broken[-1].code)}; {ask}")
        raise BadReply(f"the reply contains no Python code; {ask}")
    if not required:
        return parsed[-1][0].code
    chosen = _select(parsed, required)
    code = "\n\n\n".join(parsed[i][0].code for i in chosen)
    defined = _functions(_parse(code)) if code else set()
    missing = [name for name in required if name not in defined]
    if missing:
        cut = " (the reply was cut off: its last code block is not closed)" if truncated else ""
        raise BadReply(
            f"the code does not define {_feedback_names(tuple(missing))} at top level{cut}; "
            f"{ask}, including all of them"
        )
    return code


def _syntax_error(code: str) -> str:
    try:
        _parse(code)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}" if exc.lineno else exc.msg
    return "unknown syntax error"


def _parse(code: str) -> ast.Module:
    """``ast.parse``, with the parser's own limits (nesting depth, size: ``MemoryError`` /
    ``RecursionError``; NUL bytes: ``ValueError``) reported as the syntax error they are for a reply, so
    any reply ends in ``BadReply``, never in a crash."""
    try:
        return ast.parse(code)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SyntaxError(f"the code cannot be parsed ({type(exc).__name__}: {exc})") from exc


_ACTION = re.compile(r"\[([^\[\]\n]+)\](?!\()")


def extract_action(reply: str) -> str | None:
    """The last bracketed action in ``reply``, brackets included (TextArena's format, e.g. ``"[e2e4]"``).

    The last one is taken because models reason over candidates before committing ("[e4] or [d4]? ...
    I play [d4]"). Reasoning inside ``<think>`` tags and markdown links ``[text](url)`` are ignored;
    ``None`` when there is no bracketed action, so the agent decides what to send instead.
    """
    matches = [m for m in _ACTION.finditer(_strip_thinking(reply)) if m.group(1).strip()]
    return f"[{matches[-1].group(1).strip()}]" if matches else None


__all__ = ["MAX_REPLY_CHARS", "extract_action", "extract_code"]
