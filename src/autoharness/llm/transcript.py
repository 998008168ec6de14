"""Recorded LLM exchanges: the request key, and the JSONL transcript format shared by cache and replay.

One JSON object per line::

    {"format": "autoharness-transcript/1", "key": "<sha256>", "model": "gpt-4o-mini",
     "messages": [{"role": "user", "content": "..."}], "params": {"temperature": 1.0, "max_tokens": null,
     "seed": null}, "sample_index": 0, "text": "...", "usage": {"prompt_tokens": 12, "completion_tokens": 34},
     "provenance": "openai-compatible:gpt-4o-mini@https://api.openai.com/v1", "created_at": "2026-11-21T..."}

``key`` is informative: readers recompute it from model, messages, params and sample index, so a
hand-edited transcript stays consistent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

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
        try:
            obj = json.loads(line)
            if obj.get("format") != TRANSCRIPT_FORMAT:
                raise ValueError(f"format is {obj.get('format')!r}, expected {TRANSCRIPT_FORMAT!r}")
            messages: list[Message] = [
                {"role": str(m["role"]), "content": str(m["content"])} for m in obj["messages"]
            ]
            usage = obj.get("usage") or {}
            return cls(
                model=str(obj["model"]),
                messages=messages,
                params=dict(obj["params"]),
                sample_index=int(obj["sample_index"]),
                text=str(obj["text"]),
                usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
                provenance=str(obj["provenance"]),
                created_at=str(obj.get("created_at", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{where}: not an autoharness transcript record ({exc})") from exc


def write_transcript(records: Iterable[TranscriptRecord], path: str | Path) -> int:
    """Write records as JSONL (replacing ``path``); returns how many were written."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(record.to_json() + "\n")
            count += 1
    return count


def read_transcript(path: str | Path) -> list[TranscriptRecord]:
    """Read a JSONL transcript; a bad line is a ``ConfigError`` naming the file and line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read transcript {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read transcript {path}: not UTF-8 text ({exc.reason})") from exc
    return [
        TranscriptRecord.from_json(line, f"{path}:{number}")
        for number, line in enumerate(lines, 1)
        if line.strip()
    ]


__all__ = [
    "TRANSCRIPT_FORMAT",
    "TranscriptRecord",
    "key_params",
    "read_transcript",
    "request_key",
    "write_transcript",
]
