"""The LLM layer: one client interface over every backend, with cache, replay, budget and accounting.

Callers (learner, evaluator) build a client with ``make_client(spec, base_url=...)`` and call
``client.complete(messages, Params(...))``; ``client.ledger.totals()`` gives live figures. Code and
actions are pulled out of replies with ``extract_code`` / ``extract_action``.
"""

from .base import Completion, LLMClient, Message, Params, Usage
from .cache import ResponseCache, export_transcript, import_transcript
from .cost import Budget, CallRecord, Ledger, LedgerTotals, ModelPrice, PriceTable, estimate_tokens
from .extract import extract_action, extract_code
from .factory import SPEC_HELP, make_client
from .manual import ManualClient
from .metered import MeteredClient
from .openai_client import OpenAIClient
from .replay import ReplayClient
from .retry import RetryPolicy
from .transcript import TranscriptRecord, read_transcript, request_key, write_transcript

__all__ = [
    "SPEC_HELP",
    "Budget",
    "CallRecord",
    "Completion",
    "LLMClient",
    "Ledger",
    "LedgerTotals",
    "ManualClient",
    "Message",
    "MeteredClient",
    "ModelPrice",
    "OpenAIClient",
    "Params",
    "PriceTable",
    "ReplayClient",
    "ResponseCache",
    "RetryPolicy",
    "TranscriptRecord",
    "Usage",
    "estimate_tokens",
    "export_transcript",
    "extract_action",
    "extract_code",
    "import_transcript",
    "make_client",
    "read_transcript",
    "request_key",
    "write_transcript",
]
