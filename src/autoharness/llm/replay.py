"""Replies from a recorded transcript, for reproducing a run with no model at all.

A request the transcript lacks is a ``ReplayMiss``, never a fallback to anything else: a replay that
quietly asked a live model would no longer be a replay.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, ReplayMiss
from .base import DEFAULT_PARAMS, Completion, Message, Params
from .provenance import replayed
from .transcript import TranscriptRecord, key_params, read_transcript, request_key


class ReplayClient:
    """Answers exactly the requests recorded in a JSONL transcript (see ``transcript``).

    ``model`` picks which model's replies to use; it may be left out when the transcript holds one model.
    """

    def __init__(self, path: str | Path, model: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"no transcript at {self.path} (replay:FILE needs a JSONL transcript)")
        records = read_transcript(self.path)
        models = sorted({r.model for r in records})
        if model is None:
            if len(models) > 1:
                raise ConfigError(
                    f"transcript {self.path} holds replies of several models ({', '.join(models)}); "
                    f"pick one: replay:{self.path}#MODEL"
                )
            model = models[0] if models else "replay"
        elif model not in models:
            raise ConfigError(
                f"transcript {self.path} has no replies of {model!r} (it has {', '.join(models)})"
            )
        self.model = model
        self._records = {r.key: r for r in records if r.model == model}

    def complete(self, messages: list[Message], params: Params = DEFAULT_PARAMS) -> list[Completion]:
        wanted = key_params(params)
        out = []
        for index in range(params.sample_offset, params.sample_offset + params.n):
            record = self._records.get(request_key(self.model, messages, wanted, index))
            if record is None:
                raise ReplayMiss(self._miss(messages, wanted, index))
            out.append(
                Completion(
                    text=record.text,
                    usage=record.usage,
                    model=self.model,
                    provenance=replayed(self.path, record.provenance),
                )
            )
        return out

    def _miss(self, messages: list[Message], params: dict[str, object], index: int) -> str:
        """Say how the request differs from the nearest recorded one, so the cause is quick to find."""
        same_chat = [r for r in self._records.values() if r.messages == messages]
        base = f"request not in transcript {self.path} ({len(self._records)} replies of {self.model})"
        if same_chat:
            return base + _closest_hint(same_chat, params, index)
        last = messages[-1]["content"] if messages else ""
        snippet = " ".join(last.split())[:60]
        return (
            f"{base}: no recorded request has these messages (last one starts {snippet!r}); "
            "prompts changed since recording? re-record with the live model"
        )


def _closest_hint(same_chat: list[TranscriptRecord], params: dict[str, object], index: int) -> str:
    same_params = [r for r in same_chat if r.params == params]
    if same_params:
        have = sorted(r.sample_index for r in same_params)
        return f": the same request was recorded with samples {have}, not sample {index}"
    return f": the same messages were recorded with parameters {same_chat[0].params}, not {params}"


__all__ = ["ReplayClient"]
