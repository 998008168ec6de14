"""Running untrusted harness code: a static contract check, then a persistent sandboxed worker per slot.

with WorkerPool(4) as pool, pool.session(source, "verifier") as session:
    if session.load_failure is None:
        action = session.propose_action(obs)   # str, or a HarnessFailure — never an exception
"""

from .contract import MODES, Mode, StaticIssue, check_source
from .failures import FailureKind, HarnessFailure
from .isolation import SandboxLimits
from .pool import HarnessSession, Proposal, WorkerPool, sandbox_status

__all__ = [
    "MODES",
    "FailureKind",
    "HarnessFailure",
    "HarnessSession",
    "Mode",
    "Proposal",
    "SandboxLimits",
    "StaticIssue",
    "WorkerPool",
    "check_source",
    "sandbox_status",
]
