"""The leaderboard page in a real headless Chromium: loads without console errors, sorts,
escapes hostile model names, and a screenshot is taken."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">'


def cotbench(*args):
    return subprocess.run([sys.executable, "-m", "cotbench.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def board(real_runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    hostile = root / "hostile"
    shutil.copytree(real_runs / "vanilla", hostile)
    results = next(hostile.rglob("results_*.json"))
    data = json.loads(results.read_text())
    data["config"]["model_args"] = {"pretrained": HOSTILE}
    results.write_text(json.dumps(data))
    out = root / "lb"
    proc = cotbench("leaderboard", str(real_runs / "vanilla"), str(real_runs / "entrocut"), str(hostile), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_markdown_and_files(board):
    md = (board / "LEADERBOARD.md").read_text()
    assert "| smollm2-135m" in md and "entrocut" in md and "vanilla" in md
    assert (board / "pareto_cot_gsm8k.png").is_file()
    rows = json.loads((board / "leaderboard.json").read_text())
    assert {r["method"] for r in rows} == {"vanilla", "entrocut"} and len(rows) == 6
    # The method's own arguments tell runs of one method apart (threshold sweeps); loading args do not.
    assert {r["setting"] for r in rows if r["method"] == "entrocut"} == {"triggers=The|So|We|To|First|Let,min_thinking_tokens=8,threshold=3"}
    assert {r["setting"] for r in rows if r["method"] == "vanilla"} == {""}


def test_leaderboard_json_carries_the_documented_row_keys(board):
    from cotbench.leaderboard import page

    rows = json.loads((board / "leaderboard.json").read_text())
    assert all(key in page.__doc__ for key in rows[0])  # the schema in page.py's docstring names every key
    assert all(list(row) == list(rows[0]) for row in rows)  # one shape for every row
    entrocut = [r for r in rows if r["method"] == "entrocut"]
    assert all(r["baseline_run"].endswith("vanilla/smollm2-135m") and r["baseline_candidates"] == 1 and r["mismatch"] is None for r in entrocut)
    assert all("thinking_token_reduction" in r and "acc_closed" in r and "epr_relative" in r and "ce" in r for r in rows)
    md = (board / "LEADERBOARD.md").read_text()
    assert "Baseline rule: made alike, then most samples, then newest, then path." in md and "EPR (cotbench)" in md


def test_html_escapes_model_text(board):
    html = (board / "index.html").read_text()
    assert HOSTILE not in html and "&lt;img src=x" in html


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (scripts/setup.sh installs it in CI)")
def test_page_in_headless_chromium(board, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((board / "index.html").as_uri())
        page.wait_for_load_state("load")
        assert errors == []
        assert page.title() == "cotbench leaderboard"  # the hostile onerror never ran
        assert page.locator("#leaderboard img").count() == 0

        def column(index):
            return [float(x) for x in page.eval_on_selector_all(f"#leaderboard tbody tr td:nth-child({index})", "els => els.map(e => e.dataset.sort)")]

        page.click("th:has-text('accuracy %')")
        assert column(5) == sorted(column(5))
        page.click("th:has-text('mean tokens')")
        ascending = column(6)
        assert ascending == sorted(ascending)
        page.click("th:has-text('mean tokens')")
        assert column(6) == sorted(ascending, reverse=True)
        shot = Path(tmp_path) / "leaderboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        browser.close()
