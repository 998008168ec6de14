"""A learning run in its own process that SIGKILLs itself at a chosen point (used by test_resume).

    python -m tests.learn.resumable_run RUN_DIR CALL_LOG [PHASE ITERATION]

Replies depend only on the prompt (see ``reply_for``), and every reply the scripted model really produces
is logged to CALL_LOG, so the test can count LLM calls across the killed and the resumed process.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from autoharness.learn.config import LearnConfig
from autoharness.learn.loop import LLM_CACHE, LearnProgress, learn
from autoharness.llm import MeteredClient, ResponseCache
from autoharness.llm.base import Message
from tests.fakes import ScriptedLLM
from tests.learn.tictactoe import GOOD, LAX, STUCK_PROPOSER

GAME = "TicTacToe-v0"
CONFIG = LearnConfig(n_envs=4, parallelism=2, seed=3)


def reply_for(messages: list[Message]) -> str:
    """Root → a lax checker; refining it → a stuck proposer; refining that → the correct harness."""
    prompt = messages[-1]["content"]
    if "# Current harness" not in prompt:
        return LAX
    return STUCK_PROPOSER if "return True" in prompt else GOOD


def main() -> None:
    run_dir, log = Path(sys.argv[1]), Path(sys.argv[2])
    kill = (sys.argv[3], int(sys.argv[4])) if len(sys.argv) > 4 else None

    def answer(messages: list[Message]) -> str:
        text = reply_for(messages)
        with log.open("a") as f:
            f.write("call\n")
        return text

    def progress(p: LearnProgress) -> None:
        if kill == (p.phase, p.iteration):
            os.kill(os.getpid(), signal.SIGKILL)

    client = MeteredClient(ScriptedLLM(answer), cache=ResponseCache(run_dir / LLM_CACHE))
    learn(GAME, CONFIG, client, run_dir, progress=progress, resume=(run_dir / "run.sqlite").exists())


if __name__ == "__main__":
    main()
