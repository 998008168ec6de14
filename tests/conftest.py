"""Every test runs with its own per-user directories: no test reaches the real user's LLM cache.

Every ``learn`` verifies its harness at the end on ``verify_positions`` held-out positions (default 2,000:
a minute or more); tests that do not test verification itself skip it (``$AUTOHARNESS_VERIFY_POSITIONS``
= 0, set at import so worker processes of suite tests inherit it too); tests of verification set
``verify_positions`` explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("AUTOHARNESS_VERIFY_POSITIONS", "0")


@pytest.fixture(autouse=True)
def private_user_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``$XDG_CACHE_HOME`` (the shared LLM cache's home) at a fresh temporary directory."""
    home = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home
