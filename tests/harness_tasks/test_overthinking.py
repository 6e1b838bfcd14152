"""Overthinking: the first thinking step whose stated answer is right, graded by our grader; on the
testbed's traces it is the step "So the answer is N.", and through the real CLI every record says so."""

import json
import random

import pytest

from cotbench.cot_methods.testbed.arith_traces import solve
from cotbench.harness_tasks.arith import evaluation_problems
from cotbench.harness_tasks.overthinking import first_correct_step, overthinking_fields


@pytest.mark.parametrize("level", ["easy", "medium", "hard"])
def test_on_testbed_traces_the_first_correct_step_is_the_stated_answer(level):
    rng = random.Random(0)
    for problem in evaluation_problems(level)[:40]:
        solution = solve(problem, rng)
        found = first_correct_step(solution.thinking(), str(problem.answer))
        # Not the computation, whose last equation already shows the total: the step that states it
        # (after the last operation's caution, when its digits carry).
        blocks = solution.blocks()
        assert found.steps == len(blocks) and found.step == 2 and solution.answered in blocks[1]
        assert solution.steps[solution.answered] == f"So the answer is {problem.answer}."


def test_a_wrong_stated_answer_then_a_right_box():
    thinking = "Try 12.\n\nSo the answer is 12.\n\nWait, I dropped a sign.\n\nThe final answer is $\\boxed{-12}$.\n\nDone."
    assert first_correct_step(thinking, "-12").step == 4
    assert first_correct_step(thinking, "7").step is None


def test_the_overthinking_share_is_the_thinking_after_that_step():
    thinking = "So the answer is 3.\n\n" + "Wait, let me double-check. Yes, the answer is 3.\n\n" * 3
    fields = overthinking_fields(thinking.rstrip(), "3", thinking_tokens=200, tokenizer=None)
    assert fields["first_correct_step"] == 1 and fields["thinking_steps"] == 4 and fields["overthinking_unit"] == "characters"
    assert fields["overthinking_share"] == pytest.approx(1 - len("So the answer is 3.") / len(thinking.rstrip()))
    assert fields["first_correct_tokens"] == round(200 * len("So the answer is 3.") / len(thinking.rstrip()))


def test_the_cli_records_where_the_testbed_first_stated_its_answer(plain_and_vanilla):
    _, vanilla = plain_and_vanilla
    samples = [json.loads(line) for f in vanilla.rglob("samples_cot_arith_easy_*.jsonl") for line in f.open()]
    assert len(samples) == 10
    found = 0
    for sample in samples:
        record, text = sample["doc"]["cotbench"]["generations"][0], sample["resps"][0][0]
        assert record["overthinking_unit"] in ("tokens", None)  # the testbed folder's tokenizer loads
        if record["first_correct_step"] is None:
            continue
        found += 1
        step = text.split("</think>")[0].split("\n\n")[record["first_correct_step"] - 1]
        # the step that states it: "So the answer is N.", after the last operation's caution when its digits carry
        assert step.split("\n")[-1] == f"So the answer is {sample['doc']['answer']}.", step
        assert 0 < record["first_correct_tokens"] <= record["thinking_tokens"] and 0 <= record["overthinking_share"] < 1
    assert found >= 8


def test_report_and_leaderboard_show_the_overthinking_views(plain_and_vanilla, tmp_path):
    import subprocess
    import sys

    plain, vanilla = plain_and_vanilla
    cli = [sys.executable, "-m", "cotbench.cli"]
    assert subprocess.run([*cli, "report", str(vanilla), "--baseline", str(plain), "-o", str(tmp_path / "report")], timeout=600).returncode == 0
    summary = json.loads((tmp_path / "report" / "report.json").read_text())["summary"]
    arith = summary["cot_arith_easy"]
    assert 0 < arith["overthinking_share"] < 1 and arith["tokens_to_first_correct"] > 0
    assert 0 < arith["thinkbench_token_efficiency"] < 1 and "ockscore" in arith
    assert "overthinking_share" in summary["cot_math500"]["by_difficulty"]["level 2"]  # and per level
    markdown = (tmp_path / "report" / "report.md").read_text()
    for column in ("overthinking %", "tokens to 1st correct", "token efficiency (ThinkBench)", "underthinking (ThinkBench)", "OckScore"):
        assert column in markdown

    assert subprocess.run([*cli, "leaderboard", str(plain), str(vanilla), "-o", str(tmp_path / "board")], timeout=600).returncode == 0
    rows = json.loads((tmp_path / "board" / "leaderboard.json").read_text())
    vanilla_arith = next(r for r in rows if r["method"] == "vanilla" and r["benchmark"] == "cot_arith_easy")
    assert vanilla_arith["overthinking_share"] == pytest.approx(arith["overthinking_share"])
    assert vanilla_arith["ockscore"] == pytest.approx(arith["ockscore"])
    assert "overthinking %" in (tmp_path / "board" / "LEADERBOARD.md").read_text()


def test_ockscore_is_ockbenchs_formula():
    import math

    from cotbench.reports.metrics import ockscore

    assert ockscore(0.8, 0) == pytest.approx(80.0)
    assert ockscore(0.8, 10_000) == pytest.approx(80 - 10 * math.log(2))


def test_the_demos_alias_counts_overthinking_in_the_models_own_tokens(tmp_path, monkeypatch):
    """`pretrained=arith-testbed` (the demo's name) is no hub id: the grader counts with the folder
    the adapter loaded its tokenizer from. Looking the alias up on the hub instead cost the demo
    46 s of retries per run where the network is reachable, and counted characters."""
    import subprocess
    import sys

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # the lookup must not be tried, offline or not
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a dead hub: a lookup, if tried, fails (after retries: 57 s before the fix)
    proc = subprocess.run(
        [sys.executable, "-m", "cotbench.cli", "eval", "--model", "cotbench-vanilla", "--model_args", "pretrained=arith-testbed",
         "--tasks", "cot_arith_easy", "--limit", "3", "--apply_chat_template", "--log_samples", "--output_path", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "did not load" not in proc.stderr
    records = [g for f in tmp_path.rglob("samples_cot_arith_easy_*.jsonl") for line in f.open() for g in json.loads(line)["doc"]["cotbench"]["generations"]]
    assert len(records) == 3 and all(r["overthinking_unit"] == "tokens" for r in records), [r["overthinking_unit"] for r in records]
