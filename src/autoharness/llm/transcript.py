"""Recorded LLM exchanges: the request key, and the JSONL transcript format shared by cache and replay.

One JSON object per line::

    {"format": "autoharness-transcript/1", "key": "<sha256>", "model": "gpt-4o-mini",
     "messages": [{"role": "user", "content": "..."}], "params": {"temperature": 1.0, "max_tokens": null,
     "seed": null}, "sample_index": 0, "text": "...", "usage": {"prompt_tokens": 12, "completion_tokens": 34},
     "provenance": "openai-compatible:gpt-4o-mini@https://api.openai.com/v1", "created_at": "2026-11-21T..."}

``key`` is informative: readers recompute it from model, messages, params and sample index, so a
hand-edited transcript stays consistent. A file named ``*.jsonl.xz`` or ``*.jsonl.gz`` is the same JSONL,
compressed (the shipped campaign transcripts: ``autoharness.builtin``); the suffix decides, on write and read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import ConfigError
from .base import Message, Params, Usage

TRANSCRIPT_FORMAT = "autoharness-transcript/1"


def key_params(params: Params) -> dict[str, object]:
    """The parameters that change a single sample (``n`` and the offset are carried by the sample index)."""
    return {"temperature": params.temperature, "max_tokens": params.max_tokens, "seed": params.seed}


def request_key(model: str, messages: list[Message], params: dict[str, object], sample_index: int) -> str:
    """Stable hash of one sample of one request: equal requests get equal keys across processes."""
    canonical = json.dumps(
        {
            "model": model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "params": params,
            "sample": sample_index,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TranscriptRecord:
    """One sampled reply with the request that produced it and where it came from."""

    model: str
    messages: list[Message]
    params: dict[str, object]
    sample_index: int
    text: str
    usage: Usage
    provenance: str
    created_at: str

    @property
    def key(self) -> str:
        return request_key(self.model, self.messages, self.params, self.sample_index)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": TRANSCRIPT_FORMAT,
                "key": self.key,
                "model": self.model,
                "messages": self.messages,
                "params": self.params,
                "sample_index": self.sample_index,
                "text": self.text,
                "usage": {
                    "prompt_tokens": self.usage.prompt_tokens,
                    "completion_tokens": self.usage.completion_tokens,
                },
                "provenance": self.provenance,
                "created_at": self.created_at,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, line: str, where: str) -> TranscriptRecord:
        """Parse one line, trusting nothing: every field has its type (whole, non-negative token counts
        and sample index; finite numbers), else a one-line ``ConfigError`` naming ``where``."""
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError(f"a JSON {type(obj).__name__}, not an object")
            if obj.get("format") != TRANSCRIPT_FORMAT:
                raise ValueError(f"format is {_short(obj.get('format'))}, expected {TRANSCRIPT_FORMAT!r}")
            raw_messages = obj["messages"]
            if not isinstance(raw_messages, list) or not all(_is_message(m) for m in raw_messages):
                raise ValueError("messages must be a list of {role, content} strings")
            messages: list[Message] = [{"role": m["role"], "content": m["content"]} for m in raw_messages]
            params = obj["params"]
            if not isinstance(params, dict) or not all(_scalar(v) for v in params.values()):
                raise ValueError("params must be an object of strings, finite numbers or nulls")
            usage = obj.get("usage") or {}
            if not isinstance(usage, dict):
                raise ValueError("usage must be an object")
            index = obj["sample_index"]
            if type(index) is not int or not 0 <= index <= 1_000_000:
                raise ValueError(f"sample_index must be a whole number 0..1,000,000, not {_short(index)}")
            for name in ("model", "text", "provenance"):
                if not isinstance(obj[name], str):
                    raise ValueError(f"{name} must be a string, not {_short(obj[name])}")
            return cls(
                model=obj["model"],
                messages=messages,
                params=params,
                sample_index=index,
                text=obj["text"],
                usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
                provenance=obj["provenance"],
                created_at=str(obj.get("created_at", ""))[:64],
            )
        except RecursionError:
            raise ConfigError(f"{where}: not an autoharness transcript record (nested too deeply)") from None
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
            reason = f"missing {exc}" if isinstance(exc, KeyError) else _one_line(str(exc))
            raise ConfigError(f"{where}: not an autoharness transcript record ({reason})") from None


def _is_message(m: object) -> bool:
    return isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)


def _scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int)


def _short(value: object) -> str:
    text = repr(value)
    return _one_line(text if len(text) <= 60 else text[:59] + "…")


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in " ".join(text.split()))[:300]


def _open_text(path: Path, mode: str) -> IO[str]:
    """``path`` as UTF-8 text, through xz or gzip when its name says it is compressed."""
    if path.suffix == ".xz":
        # preset 9 (not 9e): as small within 1% on transcripts, and deterministic like any preset
        return lzma.open(path, mode + "t", encoding="utf-8", preset=9 if mode == "w" else None)
    if path.suffix == ".gz":  # mtime 0: the same records give the same bytes
        return io.TextIOWrapper(gzip.GzipFile(path, mode + "b", mtime=0), encoding="utf-8")
    return path.open(mode, encoding="utf-8")


def write_transcript(records: Iterable[TranscriptRecord], path: str | Path) -> int:
    """Write records as JSONL (replacing ``path``; ``.xz`` / ``.gz`` compressed); returns how many."""
    count = 0
    with _open_text(Path(path), "w") as fh:
        for record in records:
            fh.write(record.to_json() + "\n")
            count += 1
    return count


def read_transcript(path: str | Path) -> list[TranscriptRecord]:
    """Read a JSONL transcript (``.xz`` / ``.gz``: compressed); a bad line is a ``ConfigError`` naming the
    file and line."""
    try:
        with _open_text(Path(path), "r") as fh:
            lines = fh.read().splitlines()
    except (lzma.LZMAError, gzip.BadGzipFile, EOFError) as exc:
        raise ConfigError(f"cannot read transcript {path}: damaged compressed file ({exc})") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read transcript {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read transcript {path}: not UTF-8 text ({exc.reason})") from exc
    records: list[TranscriptRecord] = []
    first_line: dict[tuple[str, str], int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = TranscriptRecord.from_json(line, f"{path}:{number}")
        seen = first_line.setdefault((record.model, record.key), number)
        if seen != number:  # which reply would win is not the file's to leave unsaid
            raise ConfigError(
                f"{path}:{number}: records the same request (model, messages, params, sample) as line "
                f"{seen}; keep one of them"
            )
        records.append(record)
    return records


__all__ = [
    "TRANSCRIPT_FORMAT",
    "TranscriptRecord",
    "key_params",
    "read_transcript",
    "request_key",
    "write_transcript",
]
