"""Per-difficulty breakdown: MATH-500's level and an AIME problem's number travel from the data into
each sample record, and `report` and `leaderboard` show accuracy, tokens and reduction per group."""

import json
import subprocess
import sys

import pytest

from cotbench.harness_tasks.data import load_rows
from cotbench.reports.runs import difficulty


def cotbench(*args):
    return subprocess.run([sys.executable, "-m", "cotbench.cli", *args], capture_output=True, text=True, timeout=600)


def test_the_loader_keeps_level_and_problem_number():
    assert {row["level"] for row in load_rows("math500")} == {1, 2, 3, 4, 5}
    # AIME 2024's mirror is in the source's order (I-1, I-10 … I-15, I-2 …): the number comes from the url.
    assert [row["problem_number"] for row in load_rows("aime24")][:3] == [1, 10, 11]
    assert [row["problem_number"] for row in load_rows("aime25")] == [*range(1, 16), *range(1, 16)]
    assert max(row["problem_number"] for row in load_rows("amc23")) == 25
    assert "level" not in load_rows("gsm8k")[0]


@pytest.mark.parametrize("record,group", [({"level": 3}, "level 3"), ({"problem_number": 5}, "problems 1–5"),
                                          ({"problem_number": 11}, "problems 11–15"), ({"id": "x"}, None)])
def test_difficulty_groups(record, group):
    assert difficulty(record) == group


def test_records_carry_the_difficulty(plain_and_vanilla):
    _, vanilla = plain_and_vanilla
    records = {f.name.split("_20")[0]: [json.loads(line)["doc"]["cotbench"] for line in f.open()] for f in vanilla.rglob("samples_*.jsonl")}
    assert [r["level"] for r in records["samples_cot_math500"]] == [2, 5, 3, 3, 2, 2, 3, 4, 3, 5]
    assert [r["problem_number"] for r in records["samples_cot_aime25"]] == list(range(1, 11))


def test_report_and_leaderboard_break_down_by_difficulty(plain_and_vanilla, tmp_path):
    plain, vanilla = plain_and_vanilla
    assert cotbench("report", str(plain), "--baseline", str(vanilla), "-o", str(tmp_path / "report")).returncode == 0
    levels = json.loads((tmp_path / "report" / "report.json").read_text())["summary"]["cot_math500"]["by_difficulty"]
    assert list(levels) == ["level 2", "level 3", "level 4", "level 5"]
    assert [levels[group]["samples"] for group in levels] == [3, 4, 1, 2]
    assert all("mean_total_tokens" in g and "token_reduction" in g["versus_baseline"] for g in levels.values())
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## By difficulty" in markdown and "| cot_aime25  | problems 6–10 |" in markdown
    assert "<h2>By difficulty</h2>" in (tmp_path / "report" / "report.html").read_text()

    proc = cotbench("leaderboard", str(plain), str(vanilla), "-o", str(tmp_path / "board"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    hf_aime = next(r for r in rows if r["method"] == "hf" and r["benchmark"] == "cot_aime25")
    assert [(e["difficulty"], e["samples"]) for e in hf_aime["by_difficulty"]] == [("problems 1–5", 5), ("problems 6–10", 5)]
    assert all(e["token_reduction"] is not None for e in hf_aime["by_difficulty"])  # against the vanilla run's same problems
    assert "## By difficulty" in (tmp_path / "board" / "LEADERBOARD.md").read_text()
