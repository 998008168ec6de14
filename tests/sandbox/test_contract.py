from autoharness.sandbox import check_source

OK = """import re, numpy as np
def propose_action(obs):
    return 'x'
def is_legal_action(obs, action):
    return True
"""


def test_good_source_has_no_issues():
    assert check_source(OK, "verifier") == []
    assert check_source(OK, "policy") == []


def test_filter_mode_needs_legal_actions():
    issues = check_source(OK, "filter")
    assert [i.kind for i in issues] == ["missing_function"]
    assert "legal_actions" in issues[0].message


def test_syntax_error_reports_line():
    (issue,) = check_source("def propose_action(obs):\n    return (\n", "policy")
    assert issue.kind == "syntax_error" and issue.line == 2


def test_wrong_arity_and_async_are_reported_with_line():
    src = "def propose_action():\n    return ''\nasync def is_legal_action(o, a):\n    return True\n"
    issues = check_source(src, "verifier")
    assert [(i.kind, i.line) for i in issues] == [("wrong_arity", 1), ("wrong_arity", 3)]


def test_defaults_varargs_and_assignment_are_accepted():
    src = "def propose_action(obs, depth=2):\n    return ''\nis_legal_action = lambda *a: True\n"
    assert check_source(src, "verifier") == []


def test_imports_outside_stdlib_and_numpy_are_reported():
    src = OK + "import requests\nfrom chess import Board\nimport os.path\nfrom . import x\n"
    issues = check_source(src, "policy")
    assert sorted((i.kind, i.line) for i in issues) == [("disallowed_import", 6), ("disallowed_import", 7)]


def test_null_bytes_and_huge_sources_do_not_raise():
    assert check_source("x = 1\0", "policy")[0].kind == "syntax_error"
    assert check_source("#" * 600_000, "policy")[0].kind == "too_large"
