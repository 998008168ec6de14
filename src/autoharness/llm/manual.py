"""A person, or any outside tool, plays the model (in the spirit of aider's copy-paste mode).

File protocol, in one directory (default ``./autoharness-manual``):

* For every reply wanted, the backend writes ``NNNN.prompt.md`` (the chat as markdown, readable and
  pasteable) and ``NNNN.prompt.json`` (the exact messages, for tools), then waits.
* Whoever answers writes the reply to ``NNNN.reply.md``. It is taken once it is non-empty and has not
  changed for ``settle`` seconds, so an editor's save or a tool's write-then-rename both work.
* Where stdin is a terminal, the reply may instead be pasted there, ended by a line ``EOF`` (or Ctrl-D).

A prompt is identified by its request key (messages, parameters including the seed, sample index: the
LLM cache's key, kept in ``NNNN.prompt.json``). The same request is not written again: its number is
reused, and a reply already there is taken at once, so a restarted run picks up where it stopped. A
request with the same text but another seed or sample index is a new prompt, never an earlier reply.

Several runs may share one directory: a prompt number is claimed atomically (``NNNN.prompt.json`` created
with ``O_EXCL``), and a reply is tied to its prompt: one older
than its prompt is stale and not taken, and a reply that starts with a prompt's header line (pasted back
whole) must name this prompt's request. A reply is read without following a symlink, must be a regular
UTF-8 file of at most ``MAX_REPLY_BYTES``; otherwise it is a bad reply (one line), never a crash.
"""

from __future__ import annotations

import errno
import json
import os
import re
import select
import stat
import sys
import time
from pathlib import Path
from typing import TextIO

from .._files import atomic_write
from ..errors import BadReply, ConfigError, LLMConnectionError
from .base import DEFAULT_PARAMS, Completion, Message, Params, Usage
from .cost import estimate_prompt_tokens, estimate_tokens
from .transcript import key_params, request_key

DEFAULT_DIR = Path("autoharness-manual")
DEFAULT_PROVENANCE = "manual: answered by hand through the manual backend"
END_MARKER = "EOF"
MAX_REPLY_BYTES = 4 * 1024 * 1024  # 20 times the code extraction's cap: room for prose, never 300 MB
_HEADER = re.compile(r"<!-- autoharness manual backend · sample \d+ · request ([0-9a-f]{12}) ")


def render_prompt(messages: list[Message], sample: int, reply_path: Path, key: str = "") -> str:
    """The chat as markdown, with the answering instructions on top (they are part of the file so a
    helper agent given only this file knows what to do)."""
    request = f" · request {key[:12]}" if key else ""
    head = [
        f"<!-- autoharness manual backend · sample {sample}{request} · write the assistant's reply to "
        f"{reply_path.name} in this directory -->",
        "",
    ]
    body = [f"## {m['role']}\n\n{m['content'].rstrip()}\n" for m in messages]
    return "\n".join(head + body)


class ManualClient:
    """Replies come from files (or pasted text), one exchange at a time."""

    model = "manual"

    def __init__(
        self,
        directory: str | Path = DEFAULT_DIR,
        *,
        provenance: str = DEFAULT_PROVENANCE,
        poll_interval: float = 0.5,
        settle: float = 1.0,
        timeout: float | None = None,
        read_stdin: bool | None = None,
        stdin: TextIO | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot use manual directory {self.directory}: {exc.strerror}") from exc
        self.provenance = provenance
        self.poll_interval = poll_interval
        self.settle = settle
        self.timeout = timeout
        self.stdin = stdin if stdin is not None else sys.stdin
        self.out = out if out is not None else sys.stderr
        self.read_stdin = self.stdin.isatty() if read_stdin is None else read_stdin
        self._warned: set[tuple[Path, str]] = set()

    def complete(self, messages: list[Message], params: Params = DEFAULT_PARAMS) -> list[Completion]:
        # Calls are answered one at a time: a person cannot follow several prompts at once. Nobody counts
        # tokens here, so usage is the same 4-characters-a-token estimate used for silent servers (marked).
        texts = [self._ask(messages, params, params.sample_offset + i, i + 1) for i in range(params.n)]
        prompt = estimate_prompt_tokens(messages)
        return [
            Completion(
                text=text,
                usage=Usage(prompt, estimate_tokens(text)),
                model=self.model,
                provenance=self.provenance,
                extra={"usage": "estimated"},
            )
            for text in texts
        ]

    def _ask(self, messages: list[Message], params: Params, sample: int, position: int) -> str:
        total = params.n
        key = request_key(self.model, messages, key_params(params), sample)
        number, prompt_path = self._prompt_file(messages, sample, key)
        reply_path = self.directory / f"{number:04d}.reply.md"
        ready = self._read_settled(reply_path, prompt_path, key, settled_since=0.0)
        if ready is not None:
            self._say(f"[manual] prompt {number:04d}: using the reply already in {reply_path}")
            return ready
        self._instructions(number, prompt_path, reply_path, messages, position, total)
        return self._wait(number, reply_path, prompt_path, key)

    def _prompt_file(self, messages: list[Message], sample: int, key: str) -> tuple[int, Path]:
        """The number of the prompt written for request ``key`` (written now if there is none)."""
        numbers = sorted(int(p.name[:4]) for p in self.directory.glob("[0-9][0-9][0-9][0-9].prompt.md"))
        for number in numbers:
            if self._prompt_key(number) == key:
                return number, self.directory / f"{number:04d}.prompt.md"
        record = json.dumps(
            {"messages": messages, "sample": sample, "key": key}, indent=1, ensure_ascii=False
        )
        number = self._claim(record)
        path = self.directory / f"{number:04d}.prompt.md"
        reply_path = self.directory / f"{number:04d}.reply.md"
        try:
            atomic_write(path, render_prompt(messages, sample, reply_path, key))  # never seen half-written
        except OSError as exc:
            raise ConfigError(f"cannot write manual prompt {path}: {exc.strerror}") from exc
        return number, path

    def _claim(self, record: str) -> int:
        """Take the next free prompt number for good: ``NNNN.prompt.json`` is created with ``O_EXCL``, so
        two runs sharing the directory never get the same number."""
        used = [int(p.name[:4]) for p in self.directory.glob("[0-9][0-9][0-9][0-9].prompt.*")]
        number = max(used, default=0) + 1
        while True:
            path = self.directory / f"{number:04d}.prompt.json"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
            except FileExistsError:
                number += 1
                continue
            except OSError as exc:
                raise ConfigError(f"cannot write manual prompt {path}: {exc.strerror}") from exc
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(record)
            return number

    def _prompt_key(self, number: int) -> str | None:
        """The request key recorded with prompt ``number`` (None if unreadable: never matched)."""
        try:
            data = json.loads((self.directory / f"{number:04d}.prompt.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return data.get("key") if isinstance(data, dict) else None

    def _instructions(
        self, number: int, prompt: Path, reply: Path, messages: list[Message], position: int, total: int
    ) -> None:
        size = sum(len(m["content"]) for m in messages)
        sample = f" (sample {position} of {total})" if total > 1 else ""
        lines = [
            f"── manual LLM · prompt {number:04d}{sample} " + "─" * 20,
            f"  prompt: {prompt}  ({len(messages)} messages, {size:,} chars; exact messages in "
            f"{number:04d}.prompt.json)",
            f"  reply:  save the model's answer to {reply}",
        ]
        if self.read_stdin:
            lines.append(f"          or paste it here and end with a line {END_MARKER} (or Ctrl-D)")
            lines += ["", prompt.read_text(encoding="utf-8")]
        lines.append("  waiting …")
        self._say("\n".join(lines))

    def _wait(self, number: int, reply_path: Path, prompt_path: Path, key: str) -> str:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        stdin_open = self.read_stdin
        while True:
            text = self._read_settled(reply_path, prompt_path, key, settled_since=self.settle)
            if text is not None:
                self._say(f"[manual] prompt {number:04d}: got {len(text):,} chars from {reply_path}")
                return text
            if stdin_open:
                pasted = self._read_pasted()
                if pasted is None:
                    stdin_open = False
                elif pasted.strip():
                    try:  # the directory stays a full record (replacing, never writing through, a link)
                        atomic_write(reply_path, pasted)
                    except OSError as exc:
                        self._say(f"[manual] could not save the pasted reply to {reply_path}: {exc.strerror}")
                    return pasted
            else:
                time.sleep(self.poll_interval)
            if deadline is not None and time.monotonic() > deadline:
                raise LLMConnectionError(
                    f"no reply to manual prompt {number:04d} within {self.timeout:g}s "
                    f"(expected in {reply_path})"
                )

    def _read_settled(self, path: Path, prompt: Path, key: str, settled_since: float) -> str | None:
        """The reply if the file exists, is non-empty, was last written ``settled_since`` seconds ago and
        is not stale (older than its prompt, or headed by another request's prompt line).

        Opened without following a symlink (a planted link to a secret must not be copied into the
        cache) and without blocking on a FIFO; anything but a regular UTF-8 file of at most
        ``MAX_REPLY_BYTES`` is a ``BadReply``."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise BadReply(f"{path} is a symbolic link; write the reply into the file itself") from None
            raise BadReply(f"cannot read the reply {path}: {exc.strerror}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise BadReply(f"the reply {path} is not a regular file")
        with os.fdopen(fd, "rb") as handle:
            if info.st_size > MAX_REPLY_BYTES:
                raise BadReply(
                    f"the reply {path} is {info.st_size:,} bytes, over the {MAX_REPLY_BYTES:,} allowed"
                )
            if info.st_size == 0 or time.time() - info.st_mtime < settled_since:
                return None
            if self._stale(info.st_mtime, prompt, path):
                return None
            data = handle.read(MAX_REPLY_BYTES + 1)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadReply(f"the reply {path} is not UTF-8 text (byte {exc.start:,})") from None
        first, _, rest = text.partition("\n")
        header = _HEADER.search(first)
        if header is not None:
            if header.group(1) != key[:12]:
                self._warn_once(path, f"{path} answers another request ({header.group(1)}); not taken")
                return None
            text = rest  # the prompt's header line pasted back: not part of the reply
        return text if text.strip() else None

    def _stale(self, reply_mtime: float, prompt: Path, reply: Path) -> bool:
        """A reply written before its prompt belongs to an earlier exchange that had the same number."""
        try:
            prompt_mtime = prompt.stat().st_mtime
        except OSError:
            return False
        if reply_mtime >= prompt_mtime:
            return False
        self._warn_once(reply, f"{reply} is older than its prompt (left from an earlier run?); not taken")
        return True

    def _warn_once(self, path: Path, message: str) -> None:
        if (path, message) not in self._warned:
            self._warned.add((path, message))
            self._say(f"[manual] {message}")

    def _read_pasted(self) -> str | None:
        """Wait up to one poll interval for pasted text; '' if nothing came, ``None`` once stdin is closed."""
        try:
            ready, _, _ = select.select([self.stdin], [], [], self.poll_interval)
        except (OSError, ValueError, TypeError):
            ready = [self.stdin]  # not selectable (e.g. a StringIO): just read it
        if not ready:
            return ""
        lines: list[str] = []
        for line in iter(self.stdin.readline, ""):
            if line.rstrip("\r\n") == END_MARKER:
                return "".join(lines)
            lines.append(line)
        return "".join(lines) if lines else None

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


__all__ = ["DEFAULT_PROVENANCE", "MAX_REPLY_BYTES", "ManualClient", "render_prompt"]
