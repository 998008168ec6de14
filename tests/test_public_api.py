"""The public surface: every exported name resolves, and importing the package stays cheap."""

import subprocess
import sys

import autoharness


def test_every_exported_name_resolves() -> None:
    import autoharness.evaluate
    import autoharness.learn

    for name in autoharness.__all__:
        value = getattr(autoharness, name)
        assert value is not None and not isinstance(value, type(autoharness)), name


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        autoharness.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_does_not_load_textarena_or_the_llm_sdk() -> None:
    code = "import sys, autoharness; print('textarena' in sys.modules, 'openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
