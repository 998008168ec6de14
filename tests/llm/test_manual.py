"""The manual backend, driven by a thread that plays the person (or helper agent) answering."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import pytest

from autoharness.errors import BadReply, ConfigError, LLMConnectionError
from autoharness.llm import ManualClient, MeteredClient, Params, ResponseCache

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Your move?"}]


def manual(directory: Path, **kw: object) -> tuple[ManualClient, io.StringIO]:
    out = io.StringIO()
    client = ManualClient(directory, poll_interval=0.02, settle=0.05, read_stdin=False, out=out, **kw)  # type: ignore[arg-type]
    return client, out


def answer_when_asked(directory: Path, number: int, text: str) -> threading.Thread:
    """Wait for the prompt file, then write the reply atomically, like a well-behaved tool."""

    def run() -> None:
        prompt = directory / f"{number:04d}.prompt.md"
        for _ in range(500):
            if prompt.exists():
                break
            time.sleep(0.01)
        tmp = directory / f"{number:04d}.reply.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, directory / f"{number:04d}.reply.md")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_prompt_file_written_and_reply_file_read(tmp_path: Path) -> None:
    client, out = manual(tmp_path)
    helper = answer_when_asked(tmp_path, 1, "[4]\n")
    [reply] = client.complete(CHAT)
    helper.join()
    assert reply.text == "[4]\n"
    assert reply.provenance == "manual: answered by hand through the manual backend"
    prompt = (tmp_path / "0001.prompt.md").read_text()
    assert (
        "## system\n\nBe brief." in prompt and "## user\n\nYour move?" in prompt and "0001.reply.md" in prompt
    )
    assert json.loads((tmp_path / "0001.prompt.json").read_text())["messages"] == CHAT
    screen = out.getvalue()
    assert "prompt 0001" in screen and str(tmp_path / "0001.reply.md") in screen


def test_numbering_continues_and_samples_get_their_own_prompts(tmp_path: Path) -> None:
    client, _ = manual(tmp_path, provenance="manual: answered by helper agent X")
    first = answer_when_asked(tmp_path, 1, "a")
    second = answer_when_asked(tmp_path, 2, "b")
    replies = client.complete(CHAT, Params(n=2))
    first.join()
    second.join()
    assert [r.text for r in replies] == ["a", "b"]
    assert replies[0].provenance == "manual: answered by helper agent X"
    other = answer_when_asked(tmp_path, 3, "c")
    assert client.complete([{"role": "user", "content": "next"}])[0].text == "c"
    other.join()


def test_restart_reuses_an_already_answered_prompt(tmp_path: Path) -> None:
    client, _ = manual(tmp_path)
    helper = answer_when_asked(tmp_path, 1, "first answer")
    client.complete(CHAT)
    helper.join()
    again, out = manual(tmp_path)
    assert again.complete(CHAT)[0].text == "first answer"
    assert "already in" in out.getvalue()
    assert sorted(p.name for p in tmp_path.glob("*.prompt.md")) == ["0001.prompt.md"]


def test_empty_reply_file_is_waited_on(tmp_path: Path) -> None:
    client, _ = manual(tmp_path)
    (tmp_path / "0001.reply.md").touch()  # an editor opened the file but nothing is saved yet

    def fill() -> None:
        time.sleep(0.2)
        (tmp_path / "0001.reply.md").write_text("done")

    thread = threading.Thread(target=fill)
    thread.start()
    assert client.complete(CHAT)[0].text == "done"
    thread.join()


def test_pasted_reply_on_stdin_ends_at_marker_and_is_saved(tmp_path: Path) -> None:
    out = io.StringIO()
    stdin = io.StringIO("```python\ndef f():\n    return 1\n```\nEOF\nleftover\n")
    client = ManualClient(tmp_path, poll_interval=0.02, settle=0.05, read_stdin=True, stdin=stdin, out=out)
    [reply] = client.complete(CHAT)
    assert reply.text == "```python\ndef f():\n    return 1\n```\n"
    assert (tmp_path / "0001.reply.md").read_text() == reply.text
    assert "Your move?" in out.getvalue() and "EOF" in out.getvalue()


def test_nobody_answering_times_out_with_clear_error(tmp_path: Path) -> None:
    client, _ = manual(tmp_path, timeout=0.1)
    with pytest.raises(LLMConnectionError, match=r"no reply to manual prompt 0001 within 0.1s"):
        client.complete(CHAT)


def test_manual_answers_are_cached_like_any_backend(tmp_path: Path) -> None:
    client, _ = manual(tmp_path / "m")
    metered = MeteredClient(client, cache=ResponseCache(tmp_path / "c.sqlite"))
    helper = answer_when_asked(tmp_path / "m", 1, "[1]")
    metered.complete(CHAT)
    helper.join()
    again = metered.complete(CHAT)[0]
    assert again.cached and again.text == "[1]"


def test_same_text_but_another_request_is_a_new_prompt(tmp_path: Path) -> None:
    """Refining one node twice asks the same text with another seed: never the earlier reply."""
    client, _ = manual(tmp_path)
    helper = answer_when_asked(tmp_path, 1, "first child")
    assert client.complete(CHAT, Params(seed=1))[0].text == "first child"
    helper.join()
    helper = answer_when_asked(tmp_path, 2, "second child")
    assert client.complete(CHAT, Params(seed=2))[0].text == "second child"
    helper.join()
    helper = answer_when_asked(tmp_path, 3, "another sample")
    assert client.complete(CHAT, Params(seed=1, sample_offset=1))[0].text == "another sample"
    helper.join()
    assert client.complete(CHAT, Params(seed=1))[0].text == "first child"  # the same request: reused
    keys = {json.loads(p.read_text())["key"] for p in tmp_path.glob("*.prompt.json")}
    assert len(keys) == 3


# --- shared directories and hostile reply files (issue 17, items 5 and 8) ------------------------------


def test_simultaneous_runs_never_share_a_prompt_number(tmp_path: Path) -> None:
    """3 of 8 simultaneous starts used to take prompt 0001 (and share its reply)."""
    start = threading.Barrier(8)
    errors: list[str] = []

    def run(i: int) -> None:
        client, _ = manual(tmp_path, timeout=0.3)
        start.wait()
        try:
            client.complete([{"role": "user", "content": f"request {i}"}])
        except LLMConnectionError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = {p.name[:4]: json.loads(p.read_text()) for p in tmp_path.glob("*.prompt.json")}
    assert sorted(records) == [f"{n:04d}" for n in range(1, 9)] and len(errors) == 8
    assert len({r["messages"][0]["content"] for r in records.values()}) == 8


def test_a_reply_older_than_its_prompt_is_stale_and_not_taken(tmp_path: Path) -> None:
    (tmp_path / "0001.reply.md").write_text("left over from an earlier run")
    os.utime(tmp_path / "0001.reply.md", (time.time() - 60, time.time() - 60))
    client, out = manual(tmp_path)

    def answer_later() -> None:
        time.sleep(0.3)
        answer_when_asked(tmp_path, 1, "fresh").join()

    helper = threading.Thread(target=answer_later)
    helper.start()
    assert client.complete(CHAT)[0].text == "fresh"
    helper.join()
    assert "older than its prompt" in out.getvalue()


def test_a_reply_headed_by_another_prompt_is_not_taken(tmp_path: Path) -> None:
    client, out = manual(tmp_path)
    other = "<!-- autoharness manual backend · sample 0 · request 0123456789ab · write the reply -->\n"
    helper = answer_when_asked(tmp_path, 1, other + "the answer to another prompt")

    def correct() -> None:
        helper.join()
        time.sleep(0.4)
        head = (tmp_path / "0001.prompt.md").read_text().split("\n", 1)[0]
        (tmp_path / "0001.reply.md").write_text(head + "\nthe right answer")

    fixer = threading.Thread(target=correct)
    fixer.start()
    assert client.complete(CHAT)[0].text == "the right answer"  # its own header line is dropped
    fixer.join()
    assert "answers another request (0123456789ab)" in out.getvalue()


def test_a_symlinked_reply_is_refused_and_never_cached(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("root:$6$hash")
    secret.chmod(0o640)
    client, _ = manual(tmp_path / "m")
    metered = MeteredClient(client, cache=ResponseCache(tmp_path / "c.sqlite"))
    (tmp_path / "m").mkdir(exist_ok=True)
    (tmp_path / "m" / "0001.reply.md").symlink_to(secret)
    with pytest.raises(BadReply, match="is a symbolic link"):
        metered.complete(CHAT)
    assert len(metered.cache) == 0 and b"$6$hash" not in (tmp_path / "c.sqlite").read_bytes()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: p.write_bytes(b"caf\xe9 au lait"), r"not UTF-8 text \(byte 3\)"),
        (lambda p: (p.touch(), os.truncate(p, 300 * 1024 * 1024)), "over the 4,194,304 allowed"),
        (lambda p: os.mkfifo(p), "not a regular file"),
    ],
    ids=["directory", "not-utf8", "300MB", "fifo"],
)
def test_an_unusable_reply_file_is_a_one_line_bad_reply(tmp_path: Path, make, message) -> None:
    client, _ = manual(tmp_path)
    make(tmp_path / "0001.reply.md")
    later = time.time() + 0.5  # written after its prompt (not stale)
    os.utime(tmp_path / "0001.reply.md", (later, later), follow_symlinks=False)
    started = time.monotonic()
    with pytest.raises(BadReply, match=message) as info:
        client.complete(CHAT)
    assert time.monotonic() - started < 5 and "\n" not in str(info.value)


def test_a_manual_directory_that_cannot_be_used_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot use manual directory"):
        ManualClient(tmp_path / "file" / "sub")
    client, _ = manual(tmp_path / "d")
    (tmp_path / "d" / "0001.prompt.json").mkdir()  # a number taken by something unwritable
    os.chmod(tmp_path / "d", 0o500)
    try:
        if os.geteuid() != 0:  # root writes anyway; the claim then simply takes the next number
            with pytest.raises(ConfigError, match="cannot write manual prompt"):
                client.complete(CHAT)
    finally:
        os.chmod(tmp_path / "d", 0o700)
