"""The package's public surface: every exported name exists, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import autoharness.llm as llm


def test_every_exported_name_is_importable() -> None:
    assert sorted(llm.__all__) == sorted(set(llm.__all__))
    for name in llm.__all__:
        assert getattr(llm, name) is not None, name


def test_importing_the_layer_does_not_load_the_sdk() -> None:
    """The ``openai`` SDK takes seconds to import; CLI commands that never call a model must not pay it."""
    code = "import sys, autoharness.llm; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
