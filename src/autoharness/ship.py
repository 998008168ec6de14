"""Shipping a campaign: the built-in library layer (``autoharness.builtin``) written from suite directories.

``scripts/ship_library.py SUITE_DIR...`` calls ``ship``. Everything is copied as the suites recorded it:
each game's ``harness.py`` byte for byte, its learning run's LLM replies exported from the run's own
record (``llm_cache.sqlite``, through ``llm.cache.export_transcript``: provenance labels untouched), its
figures from ``suite.json`` and its learning config and starting harness from the run store.

What ships, per game and mode of a suite:

* status ``done``: the harness, as a library entry with its verification — one that failed verification or
  was never verified ships too, marked so (``verification``: ``passed`` false, or null), and ranks below
  any verified harness; plus the transcript of its learning run (none when it was reused unchanged);
* status ``failed``: no harness (it is listed in ``not_shipped`` with the suite's error), but the transcript
  of the failed learning run, so a replay fails the way the campaign did;
* ``pending`` / ``running`` (an unfinished suite): nothing but a line in ``not_shipped``.

The layer is rebuilt whole each time (a new directory swapped in), so a game dropped from the suites does
not linger.
"""

from __future__ import annotations

import json
import lzma
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .builtin import BUNDLE_FILE, TRANSCRIPTS, transcript_name
from .errors import ConfigError, RunStoreError
from .learn.config import LearnConfig
from .learn.loop import LLM_CACHE
from .learn.store import RunStore
from .library import BUNDLE_FORMAT, BUNDLE_VERSION, LibraryEntry
from .llm.cache import export_transcript
from .suite import SuiteManifest


@dataclass(slots=True)
class ShipSummary:
    """What ``ship`` wrote: counts, sizes, and what was left out."""

    out: Path
    entries: int = 0
    verified: int = 0
    failed_verification: list[str] = field(default_factory=list)
    not_verified: list[str] = field(default_factory=list)
    transcripts: int = 0
    replies: int = 0
    not_shipped: list[dict[str, Any]] = field(default_factory=list)
    bundle_bytes: int = 0
    transcript_bytes: int = 0

    def lines(self) -> list[str]:
        size = self.bundle_bytes + self.transcript_bytes
        out = [
            f"{self.entries} harnesses ({self.verified} verified, {len(self.failed_verification)} failed "
            f"verification, {len(self.not_verified)} not verified), {self.transcripts} transcripts "
            f"({self.replies} replies) in {self.out}",
            f"size: {size / 1e6:.2f} MB ({BUNDLE_FILE} {self.bundle_bytes / 1e3:.1f} kB, transcripts "
            f"{self.transcript_bytes / 1e3:.1f} kB, xz-compressed)",
        ]
        if self.failed_verification:
            out.append("shipped, marked as failing verification: " + ", ".join(self.failed_verification))
        if self.not_verified:
            out.append("shipped, marked as not verified: " + ", ".join(self.not_verified))
        for left in self.not_shipped:
            out.append(f"not shipped: {left['game']} ({left['mode']}): {left['status']}: {left['reason']}")
        return out


def ship(suites: Sequence[Path], out: Path) -> ShipSummary:
    """Write the built-in layer for ``suites`` into the directory ``out`` (replaced as a whole)."""
    if not suites:
        raise ConfigError("name at least one suite directory")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file, not a directory for the built-in library")
    manifests = [SuiteManifest.load(Path(d)) for d in suites]  # all checked before anything is written
    staging = out.with_name(out.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / TRANSCRIPTS).mkdir(parents=True)
    summary = ShipSummary(out)
    entries: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], str] = {}
    try:
        for manifest in manifests:
            mode = manifest.config.learn.mode
            for game, record in manifest.games.items():
                where = str(manifest.directory)
                if (game, mode) in seen:
                    raise ConfigError(
                        f"{game} ({mode}) is in two suites, {seen[(game, mode)]} and {where}: ship each once"
                    )
                seen[(game, mode)] = where
                _ship_game(manifest, game, mode, record, staging, summary, entries, runs)
        bundle = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "built": datetime.now(UTC).isoformat(timespec="seconds"),
            "suites": [_suite_line(m) for m in manifests],
            "entries": entries,
            "runs": runs,
            "not_shipped": summary.not_shipped,
        }
        data = json.dumps(bundle, indent=None, separators=(",", ":"), ensure_ascii=False).encode()
        (staging / BUNDLE_FILE).write_bytes(lzma.compress(data, preset=9))
        summary.bundle_bytes = (staging / BUNDLE_FILE).stat().st_size
        summary.transcript_bytes = sum(p.stat().st_size for p in (staging / TRANSCRIPTS).iterdir())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return summary


def _suite_line(manifest: SuiteManifest) -> dict[str, Any]:
    cfg = manifest.config
    return {
        "name": manifest.directory.name,
        "mode": cfg.learn.mode,
        "llm": cfg.llm,
        "games": len(manifest.games),
        "done": sum(r["status"] == "done" for r in manifest.games.values()),
        "created": manifest.data.get("created"),
        "updated": manifest.data.get("updated"),
    }


def _ship_game(
    manifest: SuiteManifest,
    game: str,
    mode: str,
    record: dict[str, Any],
    staging: Path,
    summary: ShipSummary,
    entries: list[dict[str, Any]],
    runs: list[dict[str, Any]],
) -> None:
    """One game of one suite: its library entry (if done), its run record and transcript (if any)."""
    status = record["status"]
    game_dir = manifest.game_dir(game)
    result = record.get("result") or {}
    error = record.get("error")
    error_text = f"{error['kind']}: {error['type']}: {error['message']}" if error else None
    if status not in ("done", "failed"):
        summary.not_shipped.append(
            {"game": game, "mode": mode, "status": status, "reason": "the suite has not finished it"}
        )
        return
    code = None
    if status == "done":
        try:
            code = (game_dir / "harness.py").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            where = game_dir / "harness.py"
            raise ConfigError(f"{where}: cannot read the harness of a finished game: {exc}") from exc
    reused = bool(result.get("reused"))
    run_dir = game_dir / "learn"
    config = seed_code = None
    transcript = None
    if not reused and (run_dir / RunStore.FILE).is_file():
        config, seed_code = _run_facts(run_dir)
        if (run_dir / LLM_CACHE).is_file():
            name = transcript_name(game, mode)
            replies = export_transcript(run_dir / LLM_CACHE, staging / TRANSCRIPTS / name)
            if replies:
                transcript = name
                summary.transcripts += 1
                summary.replies += replies
            else:
                (staging / TRANSCRIPTS / name).unlink()
    seed_game = result.get("seeded_from")
    if reused:  # the family's harness, unchanged: it is this game's harness
        seed_code = code
    if seed_code is None:
        seed_game = None  # offered a family harness, but the run did not start from it
    runs.append(
        {
            "game": game,
            "mode": mode,
            "status": status,
            "transcript": transcript,
            "config": config,
            "seed_game": seed_game,
            "seed_code": seed_code,
            "seed_model": result.get("model") if reused else None,
            "reused": reused,
            "suite": manifest.directory.name,
            "error": error_text,
            "refine_on_verify": manifest.config.refine_on_verify,
            "verify_repairs": (result.get("learned") or {}).get("verify_repairs") or 0,
        }
    )
    if status == "failed" or code is None:
        summary.not_shipped.append(
            {"game": game, "mode": mode, "status": status, "reason": error_text or "no harness"}
        )
        return
    learned = result.get("learned") or {}
    entry = LibraryEntry(
        game=game,
        mode=mode,
        code=code,
        legal_rate=learned.get("legal_rate") or 0.0,
        h=learned.get("h"),
        model=result.get("model"),
        llm_calls=learned.get("llm_calls") or 0,
        iterations=learned.get("iterations"),
        source=f"suite {manifest.directory.name}: games/{game}",
        seeded_from=seed_game if seed_game != game else None,
        created=record.get("finished") or "",
        verification=learned.get("verification"),
    )
    data = entry.to_dict()
    LibraryEntry.from_dict(data, f"{game_dir} ({mode})")  # what the layer will read back must be valid
    entries.append(data)
    summary.entries += 1
    if entry.verified:
        summary.verified += 1
    elif entry.verification and entry.verification.get("positions"):
        summary.failed_verification.append(game)
    else:
        summary.not_verified.append(game)


def _run_facts(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A learning run's stored config and the harness it was given to start from (None: from nothing)."""
    try:
        store = RunStore(run_dir, create=False)
        try:
            nodes = store.nodes()
            config = store.meta().get("config")
        finally:
            store.close()
    except RunStoreError as exc:
        raise ConfigError(str(exc)) from exc
    given = nodes[0].code if nodes and nodes[0].kind == "given" else None
    if not isinstance(config, dict):
        return None, given
    try:  # a replay rebuilds it: a config this version cannot read must fail here, not on a user's machine
        LearnConfig.from_dict(config)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{run_dir}: its stored learning config is not readable here: {exc}") from exc
    return config, given


__all__ = ["ShipSummary", "ship"]
