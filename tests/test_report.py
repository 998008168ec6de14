"""The HTML report from real eval results (and a learn run's summary), read as a suite of per-game dirs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from autoharness.cli import main
from autoharness.errors import ConfigError
from autoharness.evaluate import AgentSpec, evaluate, save_eval
from autoharness.paper import paper_table
from autoharness.report import collect, write_report

LEARN_SUMMARY = {  # the shape ``autoharness learn`` writes (learn/loop.py)
    "run_id": "r1",
    "game": "TicTacToe-v0",
    "mode": "verifier",
    "model": "scripted",
    "legal_rate": 1.0,
    "h": 1.0,
    "best_node": 5,
    "iterations": 5,
    "llm_calls": 5,
    "tokens": 12345,
    "cost_usd": 0.0123,
    "stop_reason": "target reached",
    "tree": [
        {"id": 1, "parent": None, "kind": "root", "h": 0.2},
        {"id": 2, "parent": 1, "kind": "refine_both", "h": 0.45},
        {"id": 3, "parent": 1, "kind": "refine_proposer", "h": 0.3},
        {"id": 4, "parent": 2, "kind": "refine_both", "h": 0.8},
        {"id": 5, "parent": 4, "kind": "refine_proposer", "h": 1.0},
    ],
}


POLICY_2048 = """import itertools
_moves = itertools.cycle(["[up]", "[left]", "[down]", "[right]"])
def propose_action(obs):
    return next(_moves)
def is_legal_action(obs, action):
    return True
"""

SUITE_MANIFEST = {  # the shape ``autoharness suite`` writes (suite.py): a per-game table and totals
    "format": "autoharness-suite",
    "version": 1,
    "table": [
        {
            "game": "TicTacToe-v0",
            "status": "done",
            "llm_calls": 5,
            "legal_rate": 1.0,
            "paper_legal_rate": 1.0,
        },
        {"game": "Chess-v0", "status": "failed", "error": "budget spent", "paper_legal_rate": 1.0},
    ],
    "totals": {"games": 2, "done": 1, "failed": 1},
}


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    """suite/GAME/{eval,learn}: two real evaluations and one learning run."""
    root = tmp_path_factory.mktemp("suite")
    ttt = evaluate("TicTacToe-v0", [AgentSpec("random")], matches=4)
    save_eval(root / "TicTacToe-v0" / "eval", ttt, harness_path=None, harness_source=None)
    g2048 = evaluate(
        "2048-v0",
        [AgentSpec("policy"), AgentSpec("random")],
        harness_source=POLICY_2048,
        matches=2,
        max_steps=40,
    )
    save_eval(root / "2048-v0" / "eval", g2048, harness_path=None, harness_source=POLICY_2048)
    learn = root / "TicTacToe-v0" / "learn"
    learn.mkdir()
    (learn / "summary.json").write_text(json.dumps(LEARN_SUMMARY))
    policy_run = root / "2048-v0" / "learn"
    policy_run.mkdir()
    policy = LEARN_SUMMARY | {"game": "2048-v0", "mode": "policy", "llm_calls": 2, "stop_reason": "solved"}
    (policy_run / "summary.json").write_text(json.dumps(policy))
    (root / "suite.json").write_text(json.dumps(SUITE_MANIFEST))
    return root


def _nontrivial_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert pixels.shape[0] > 200 and pixels.shape[1] > 400
    assert np.std(pixels[..., :3]) > 0.05  # a drawn plot, not a blank canvas
    assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 50


def test_suite_report_has_every_plot_and_the_paper_columns(suite):
    page = write_report(suite)
    html = page.read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    names = {Path(src).name for src in images}
    assert {"wdl.png", "reward_vs_paper.png", "cost_vs_performance.png"} <= names
    assert any(n.startswith("learning_") for n in names)
    for src in images:
        _nontrivial_png(page.parent / src)
    assert "Harness as policy" in html  # the paper's agent of the same kind is named
    assert "TicTacToe-v0" in html and "2048-v0" in html and "target reached" in html
    assert "arXiv 2603.03329" in html  # the paper's columns are attributed
    assert "budget spent" in html and '<td class="paper">1.000</td>' in html  # the suite's own table


def _rows(html: str, first_cells: tuple[str, str]) -> list[list[str]]:
    """The text of every table row whose first two cells are ``first_cells``."""
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if tuple(cells[:2]) == first_cells:
            rows.append(cells)
    return rows


def test_paper_figures_stand_only_beside_results_of_the_same_kind(suite):
    html = write_report(suite).read_text()
    ttt, g2048 = paper_table("games145")["TicTacToe-v0"], paper_table("games145")["2048-v0"]
    # Learning runs: the paper's (verifier) learning figures beside the verifier run, none beside policy.
    (verifier_run,) = _rows(html, ("TicTacToe-v0", "verifier"))
    assert verifier_run[-2:] == [ttt["learning_steps"], f"{float(ttt['legal_action_rate']):.3f}"]
    policy_run, policy_agent = _rows(html, ("2048-v0", "policy"))  # the learning run, then the eval
    assert policy_run[-2:] == ["—", "—"] and g2048["learning_steps"] not in policy_run
    # 1-player evaluations: the policy agent beside the paper's harness-as-policy, random beside nothing.
    reward, legal = paper_table("reward_1p")["2048-v0"], paper_table("legal_rate_1p")["2048-v0"]
    assert policy_agent[5:8] == [
        "Harness as policy",
        f"{float(reward['harness_as_policy']):.3f}",
        f"{float(legal['harness_as_policy']):.3f}",
    ]
    (random_agent,) = _rows(html, ("2048-v0", "random"))
    assert random_agent[5:8] == ["—", "—", "—"]
    assert f"{float(reward['flash_plus_harness']):.3f}" not in html  # no verifier agent was evaluated


def test_collect_reads_runs_and_evals_from_a_suite_dir(suite):
    data = collect(suite)
    assert [s.manifest["table"][1]["game"] for s in data.suites] == ["Chess-v0"]
    assert sorted(r.summary["game"] for r in data.runs) == ["2048-v0", "TicTacToe-v0"]
    assert sorted(r["game"] for r in data.results) == ["2048-v0", "2048-v0", "TicTacToe-v0"]
    depth = {n["id"]: n["depth"] for n in data.runs[0].nodes}
    assert depth == {1: 0, 2: 1, 3: 1, 4: 2, 5: 3}


def test_report_cli_on_one_eval_dir(suite, tmp_path, capsys):
    out = tmp_path / "page.html"
    assert main(["report", str(suite / "TicTacToe-v0" / "eval"), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    html = out.read_text()
    assert "W / D / L" in html and "Learning runs" not in html
    assert (tmp_path / "page_files" / "wdl.png").is_file()


def test_nothing_to_report_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(ConfigError, match="no results"):
        collect(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot read" in err and "\n" not in err


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)"
)
def test_page_renders_in_headless_chromium(suite, tmp_path):
    page = write_report(suite, tmp_path / "page.html")
    shot = tmp_path / "shot.png"
    script = Path(__file__).parents[1] / "scripts" / "screenshot_report.sh"
    subprocess.run(["bash", str(script), str(page), str(shot), "1280x1600"], check=True, timeout=120)
    _nontrivial_png(shot)


# --- hostile result files (issue 17, items 6 and 7) ---------------------------------------------------

SCRIPT = '"><script>alert(1)</script><img src="x'


def _hostile_copy(suite: Path, tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    shutil.copytree(suite, root)
    shutil.rmtree(root / "report_files", ignore_errors=True)
    (root / "report.html").unlink(missing_ok=True)
    return root


def _edit(path: Path, change) -> None:
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload))


def test_every_value_from_a_result_file_is_escaped(suite, tmp_path) -> None:
    """A game in summary.json reached <img src> raw, and the sha256 prefix was raw: Chromium ran both."""
    root = _hostile_copy(suite, tmp_path)
    _edit(root / "TicTacToe-v0" / "learn" / "summary.json", lambda s: s.update(game=SCRIPT, model=SCRIPT))

    def harmful_eval(payload: dict) -> None:
        payload["harness"] = {"path": SCRIPT, "sha256": "<script>alert(2)</script>"}
        payload["results"][0].update(agent=SCRIPT, aborted=SCRIPT, provenance=[SCRIPT])

    _edit(root / "TicTacToe-v0" / "eval" / "eval.json", harmful_eval)
    _edit(root / "suite.json", lambda m: m["table"][0].update(game=SCRIPT, **{SCRIPT: SCRIPT}))
    page = write_report(root).read_text()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "(sha256 &lt;script&gt;aler)" in page
    assert all(re.fullmatch(r"[\w./-]+", src) for src in re.findall(r'<img src="([^"]*)"', page))


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "eval",
            lambda p: p["results"][0].pop("cost_usd"),
            "results[0]: 'cost_usd' should be a finite number",
        ),
        ("eval", lambda p: p["results"][0].update(wins="<script>"), "'wins' should be a whole number"),
        ("eval", lambda p: p.update(results="many"), "'results' should be a list of objects"),
        ("eval", lambda p: p.update(harness={"sha256": 7}), "harness: 'sha256' should be a string"),
        ("learn", lambda s: s.update(legal_rate="1.0"), "'legal_rate' should be a finite number or null"),
        ("learn", lambda s: s.update(best_node=99), "best_node 99 is not a node of its tree"),
        ("learn", lambda s: s["tree"].append("node"), "'tree' should be a list of objects or null"),
        ("learn", lambda s: s.update(tokens=float("inf")), "'tokens' should be a whole number or null"),
        ("suite", lambda m: m.update(table={"a": 1}), "'table' should be a list of objects or null"),
    ],
)
def test_a_hand_edited_result_file_is_one_line_naming_it(
    suite, tmp_path, capsys, file, change, message
) -> None:
    root = _hostile_copy(suite, tmp_path)
    path = {
        "eval": root / "TicTacToe-v0" / "eval" / "eval.json",
        "learn": root / "TicTacToe-v0" / "learn" / "summary.json",
        "suite": root / "suite.json",
    }[file]
    _edit(path, change)
    assert main(["report", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and message in err[0], err


@pytest.mark.parametrize("content", [b"[" * 100_000, b"\xff\xfe{}", b'{"results": [' + b"9" * 5000 + b"]}"])
def test_an_unreadable_result_file_is_one_line(suite, tmp_path, capsys, content) -> None:
    root = _hostile_copy(suite, tmp_path)
    (root / "TicTacToe-v0" / "eval" / "eval.json").write_bytes(content)
    assert main(["report", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eval.json" in err[0], err


def test_report_never_writes_through_a_planted_link_or_outside_its_directory(suite, tmp_path) -> None:
    root = _hostile_copy(suite, tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (root / "report.html").symlink_to(victim)
    _edit(root / "TicTacToe-v0" / "learn" / "summary.json", lambda s: s.update(game="../../../escaped"))
    before = set(tmp_path.rglob("*"))
    page = write_report(root)
    assert victim.read_text() == "precious"
    assert page == root / "report.html" and not page.is_symlink() and "autoharness report" in page.read_text()
    new = set(tmp_path.rglob("*")) - before
    assets = root / "report_files"
    assert new and all(p in (page, assets) or p.parent == assets for p in new), new
    [png] = tmp_path.rglob("*escaped*")
    assert png.parent == root / "report_files" and re.fullmatch(r"learning_\d+_escaped\.png", png.name)


def test_report_refuses_a_linked_assets_directory(suite, tmp_path, capsys) -> None:
    root = _hostile_copy(suite, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "report_files").symlink_to(elsewhere, target_is_directory=True)
    assert main(["report", str(root)]) == 2
    assert "not writing the plots through it" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []
