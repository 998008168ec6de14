"""Cache (across processes and crashes), transcripts, and replay."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from autoharness.errors import ConfigError, ReplayMiss, RunStoreError
from autoharness.llm import (
    MeteredClient,
    Params,
    ReplayClient,
    ResponseCache,
    export_transcript,
    import_transcript,
    read_transcript,
)
from tests.fakes import ScriptedLLM

ROOT = Path(__file__).resolve().parents[2]
CHAT = [{"role": "system", "content": "You write code."}, {"role": "user", "content": "Write a harness."}]


def counting_llm() -> ScriptedLLM:
    """Each reply says which call produced it, so a cached reply is recognisable."""
    llm: ScriptedLLM
    llm = ScriptedLLM(lambda messages: f"reply #{llm.calls}", model="m1")
    return llm


def run_child(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"},
    )


CHILD = """
    import os, sys
    from autoharness.llm import MeteredClient, Params, ResponseCache
    from tests.fakes import ScriptedLLM
    CHAT = [{"role": "system", "content": "You write code."}, {"role": "user", "content": "Write a harness."}]
    llm = ScriptedLLM(lambda m: "from the child", model="m1")
    client = MeteredClient(llm, cache=ResponseCache(sys.argv[1]))
    print(client.complete(CHAT, Params(n=int(sys.argv[2])))[0].text, llm.calls, flush=True)
    if sys.argv[3] == "crash":
        os.kill(os.getpid(), 9)
"""


def test_identical_request_is_paid_once_and_params_or_sample_change_the_key(tmp_path: Path) -> None:
    llm = counting_llm()
    client = MeteredClient(llm, cache=ResponseCache(tmp_path / "c.sqlite"))
    first = client.complete(CHAT)[0]
    again = client.complete(CHAT)[0]
    assert (first.text, first.cached, again.text, again.cached) == ("reply #1", False, "reply #1", True)
    assert client.complete(CHAT, Params(temperature=0.5))[0].text == "reply #2"
    assert client.complete(CHAT, Params(sample_offset=1))[0].text == "reply #3"
    # n=3 from offset 0: sample 0 and 1 are cached, only sample 2 is asked for.
    texts = [c.text for c in client.complete(CHAT, Params(n=3))]
    assert texts == ["reply #1", "reply #3", "reply #4"] and llm.calls == 4
    assert llm.requests[-1][1].sample_offset == 2 and llm.requests[-1][1].n == 1
    totals = client.ledger.totals()
    assert (totals.calls, totals.cached_calls) == (4, 3)


def test_cache_written_by_another_process_is_hit(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    child = run_child(str(path), "1", "exit")
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["from", "the", "child", "1"]
    llm = counting_llm()
    reply = MeteredClient(llm, cache=ResponseCache(path)).complete(CHAT)[0]
    assert (reply.text, reply.cached, llm.calls) == ("from the child", True, 0)
    assert reply.provenance == "scripted:m1"


def test_cache_written_here_is_hit_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    MeteredClient(counting_llm(), cache=ResponseCache(path)).complete(CHAT)
    child = run_child(str(path), "1", "exit")
    assert child.stdout.split() == ["reply", "#1", "0"], child.stderr


def test_reply_survives_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    # The child is killed right after its call returns: no close, no cleanup.
    child = run_child(str(path), "2", "crash")
    assert child.returncode == -9
    with ResponseCache(path) as cache:
        assert len(cache) == 2
    llm = counting_llm()
    assert [c.cached for c in MeteredClient(llm, cache=ResponseCache(path)).complete(CHAT, Params(n=2))] == [
        True,
        True,
    ]


def test_two_processes_writing_at_once(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite"
    code = """
        import sys
        from autoharness.llm import MeteredClient, Params, ResponseCache
        from tests.fakes import ScriptedLLM
        client = MeteredClient(ScriptedLLM(lambda m: "x"), cache=ResponseCache(sys.argv[1]))
        for i in range(25):
            client.complete([{"role": "user", "content": sys.argv[2] + str(i)}])
    """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(path), tag],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"},
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    with ResponseCache(path) as cache:
        assert len(cache) == 50


def test_unusable_cache_file_is_run_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "not.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RunStoreError, match=r"not\.sqlite"):
        ResponseCache(bad)


def test_export_then_replay_gives_same_replies_with_provenance(tmp_path: Path) -> None:
    cache_path, transcript = tmp_path / "c.sqlite", tmp_path / "run.jsonl"
    live = MeteredClient(counting_llm(), cache=ResponseCache(cache_path))
    recorded = live.complete(CHAT, Params(n=2, temperature=0.7))
    live.close()
    assert export_transcript(cache_path, transcript) == 2
    records = read_transcript(transcript)
    assert [r.provenance for r in records] == ["scripted:m1", "scripted:m1"]

    replay = ReplayClient(transcript)
    assert replay.model == "m1"
    replies = replay.complete(CHAT, Params(n=2, temperature=0.7))
    assert [r.text for r in replies] == [r.text for r in recorded]
    assert replies[0].provenance == f"replay:{transcript} (originally: scripted:m1)"


def test_replay_miss_is_loud_with_a_hint(tmp_path: Path) -> None:
    cache_path, transcript = tmp_path / "c.sqlite", tmp_path / "run.jsonl"
    MeteredClient(counting_llm(), cache=ResponseCache(cache_path)).complete(CHAT, Params(temperature=0.7))
    export_transcript(cache_path, transcript)
    replay = ReplayClient(transcript)
    with pytest.raises(ReplayMiss, match="recorded with parameters"):
        replay.complete(CHAT, Params(temperature=0.2))
    with pytest.raises(ReplayMiss, match=r"samples \[0\], not sample 1"):
        replay.complete(CHAT, Params(temperature=0.7, sample_offset=1))
    with pytest.raises(ReplayMiss, match=r"no recorded request has these messages .*'Something else'"):
        replay.complete([{"role": "user", "content": "Something else"}], Params(temperature=0.7))


def test_import_transcript_into_a_fresh_cache(tmp_path: Path) -> None:
    MeteredClient(counting_llm(), cache=ResponseCache(tmp_path / "a.sqlite")).complete(CHAT)
    export_transcript(tmp_path / "a.sqlite", tmp_path / "t.jsonl")
    fresh = ResponseCache(tmp_path / "b.sqlite")
    assert import_transcript(tmp_path / "t.jsonl", fresh) == 1
    llm = counting_llm()
    assert MeteredClient(llm, cache=fresh).complete(CHAT)[0].text == "reply #1" and llm.calls == 0


def test_bad_transcripts_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no transcript"):
        ReplayClient(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "autoharness-transcript/1"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.jsonl:1: not an autoharness transcript"):
        ReplayClient(bad)
    with pytest.raises(RunStoreError, match="no LLM cache"):
        export_transcript(tmp_path / "nothing.sqlite", tmp_path / "out.jsonl")


def test_identical_requests_from_parallel_threads_are_paid_once(tmp_path: Path) -> None:
    def slow(messages: list) -> str:
        time.sleep(0.1)
        return "shared"

    llm = ScriptedLLM(slow, model="m1")
    client = MeteredClient(llm, cache=ResponseCache(tmp_path / "c.sqlite"))
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(client.complete(CHAT)[0].text)) for _ in range(4)
    ]
    other = threading.Thread(target=client.complete, args=([{"role": "user", "content": "other"}],))
    for t in [*threads, other]:
        t.start()
    for t in [*threads, other]:
        t.join()
    assert results == ["shared"] * 4 and llm.calls == 2
    assert client.ledger.totals().cached_calls == 3 and not client._inflight


# --- hostile transcripts (issue 17, item 9) ----------------------------------------------------------

GOOD_LINE = (
    '{"format": "autoharness-transcript/1", "model": "m", "messages": [{"role": "user", "content": "hi"}], '
    '"params": {"temperature": 1.0, "max_tokens": null, "seed": null}, "sample_index": 0, "text": "ok", '
    '"usage": {"prompt_tokens": 5, "completion_tokens": 1}, "provenance": "p", "created_at": ""}'
)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (GOOD_LINE.replace('"prompt_tokens": 5', '"prompt_tokens": 1e999'), "token counts must be whole"),
        (GOOD_LINE.replace('"sample_index": 0', '"sample_index": 1e999'), "sample_index must be a whole"),
        (GOOD_LINE.replace('"sample_index": 0', '"sample_index": ' + "9" * 5000), "integer string"),
        (GOOD_LINE.replace('"prompt_tokens": 5', '"prompt_tokens": -5'), "token counts must be whole"),
        (GOOD_LINE.replace('"prompt_tokens": 5', '"prompt_tokens": "5"'), "token counts must be whole"),
        (GOOD_LINE.replace('"temperature": 1.0', '"temperature": NaN'), "finite numbers"),
        (GOOD_LINE.replace('"text": "ok"', '"text": ' + "[" * 100_000), "nested too deeply"),
        (GOOD_LINE.replace('"text": "ok"', '"text": 7'), "text must be a string"),
        (GOOD_LINE.replace('"content": "hi"', '"content": null'), "messages must be a list"),
        ("[1, 2]", "not an object"),
        (GOOD_LINE.replace('"model": "m", ', ""), "missing 'model'"),
    ],
    ids=[
        "inf-tokens",
        "inf-index",
        "huge-int",
        "negative",
        "string-tokens",
        "nan-param",
        "deep",
        "text-int",
        "content-null",
        "array",
        "no-model",
    ],
)
def test_a_hostile_transcript_line_is_one_line_naming_it(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(GOOD_LINE + "\n" + line + "\n")
    with pytest.raises(ConfigError, match=message) as info:
        ReplayClient(path)
    assert str(info.value).startswith(f"{path}:2: ") and "\n" not in str(info.value)
    assert len(str(info.value)) < 500


def test_bad_bytes_in_a_transcript_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(GOOD_LINE.encode() + b"\n\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_transcript(path)


def test_two_records_of_one_request_are_an_error_not_a_silent_choice(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(GOOD_LINE + "\n\n" + GOOD_LINE.replace('"text": "ok"', '"text": "other"') + "\n")
    with pytest.raises(ConfigError, match=r"t.jsonl:3: records the same request .* as line 1"):
        ReplayClient(path)
    other_sample = GOOD_LINE.replace('"sample_index": 0', '"sample_index": 1')
    path.write_text(GOOD_LINE + "\n" + other_sample + "\n")
    assert len(read_transcript(path)) == 2


def test_the_request_key_is_the_sha256_of_a_fixed_canonical_json():
    """The key format is part of every cache file and transcript on disk: a change would make every
    recorded call miss (paid again, or a ReplayMiss), so it is pinned to this hand-written text."""
    import hashlib
    import json

    from autoharness.llm.base import Params
    from autoharness.llm.transcript import key_params, request_key

    params = key_params(Params(temperature=0.5, max_tokens=100, seed=7))
    messages = [{"role": "system", "content": "Play well."}, {"role": "user", "content": "Board: é ✓"}]
    canonical = (
        '{"messages":[{"content":"Play well.","role":"system"},{"content":"Board: é ✓","role":"user"}],'
        '"model":"gpt-4o-mini","params":{"max_tokens":100,"seed":7,"temperature":0.5},"sample":1}'
    )
    assert request_key("gpt-4o-mini", messages, params, 1) == hashlib.sha256(canonical.encode()).hexdigest()
    # and every bundled transcript's recorded key is still what a reader computes from its request
    from autoharness.llm import read_transcript
    from tests.learn.test_bundled_transcripts import BUNDLED

    for path in BUNDLED:
        stored = [json.loads(line)["key"] for line in path.read_text().splitlines() if line.strip()]
        assert stored == [r.key for r in read_transcript(path)], path.name
