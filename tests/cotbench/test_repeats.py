"""`cotbench eval --repeats N`: the task variants it writes, its bad input, and a real tiny run
whose report reads as avg@N, pass@N and maj@N."""

import json
import subprocess
import sys

import pytest
import yaml

from cotbench.errors import CotbenchError
from cotbench.harness_tasks import TASKS_DIR
from cotbench.repeats import parse_repeats, split_repeats, write_variants


def test_a_task_variant_includes_our_yaml_with_repeats(tmp_path):
    assert write_variants(["cot_aime24"], 16, tmp_path, TASKS_DIR) == ["cot_aime24_k16"]
    variant = yaml.safe_load((tmp_path / "cot_aime24_k16.yaml").read_text())
    assert variant == {"include": f"{TASKS_DIR}/cot_aime24.yaml", "task": "cot_aime24_k16", "repeats": 16}
    assert split_repeats("cot_aime24_k16") == ("cot_aime24", 16) and split_repeats("cot_aime24") == ("cot_aime24", None)


def test_a_group_becomes_a_group_of_variants(tmp_path):
    assert write_variants(["cot_all"], 4, tmp_path, TASKS_DIR) == ["cot_all_k4"]
    group = yaml.safe_load((tmp_path / "cot_all_k4.yaml").read_text())
    assert group["group"] == "cot_all_k4" and group["task"] == ["cot_math_k4", "cot_mmlu_k4"]
    assert yaml.safe_load((tmp_path / "cot_math_k4.yaml").read_text())["task"] == ["cot_aime24_k4", "cot_aime25_k4", "cot_amc23_k4", "cot_math500_k4", "cot_gsm8k_k4"]
    assert yaml.safe_load((tmp_path / "cot_gsm8k_k4.yaml").read_text())["repeats"] == 4


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_repeat_counts(value):
    with pytest.raises(CotbenchError, match=f"--repeats {value!r}: expected a whole number"):
        parse_repeats(value)


def test_only_cot_tasks_repeat(tmp_path):
    with pytest.raises(CotbenchError, match="'gsm8k' is not a cotbench task"):
        write_variants(["gsm8k"], 2, tmp_path, TASKS_DIR)


def cotbench(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "cotbench", *args], capture_output=True, text=True, timeout=timeout)


def test_bad_repeats_on_the_command_line_is_one_line():
    proc = cotbench("eval", "--model", "cotbench-vanilla", "--tasks", "cot_gsm8k", "--repeats", "0")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == "cotbench: error: --repeats '0': expected a whole number of generations per problem, 1 or more"


@pytest.mark.slow
def test_eval_repeats_runs_each_problem_n_times_and_reports_read_it(tmp_path, smollm2_path):
    out = tmp_path / "out"
    proc = cotbench(
        "eval", "--model", "cotbench-vanilla", "--model_args", "pretrained=smollm2-135m", "--tasks", "cot_gsm8k", "--repeats", "2",
        "--limit", "2", "--batch_size", "4", "--apply_chat_template", "--gen_kwargs", "max_gen_toks=16",
        "--log_samples", "--output_path", str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    assert set(results["results"]) == {"cot_gsm8k_k2"} and "pass@2,all" in results["results"]["cot_gsm8k_k2"]
    assert results["configs"]["cot_gsm8k_k2"]["repeats"] == 2
    samples = [json.loads(line) for f in out.rglob("samples_cot_gsm8k_k2_*.jsonl") for line in f.open()]
    assert len(samples) == 2 and all(len(s["doc"]["cotbench"]["generations"]) == 2 for s in samples)

    report = tmp_path / "report"
    assert cotbench("report", str(out), "--baseline", str(out), "-o", str(report)).returncode == 0
    summary = json.loads((report / "report.json").read_text())["summary"]["cot_gsm8k_k2"]
    assert summary["repeats"] == 2 and {"avg@2", "pass@2", "maj@2"} <= set(summary)
    assert summary["versus_baseline"]["paired_test"] == "paired permutation (per-problem avg@k)"
    md = (report / "report.md").read_text()
    assert "pass@2 %" in md and "maj@2 %" in md


def test_maj_at_k_in_lm_evals_table_agrees_with_the_report(tmp_path):
    """The shipped testbed samples at the task's T 0.6, so its 4 repeats disagree now and then."""
    from pathlib import Path

    testbed = str(Path(__file__).resolve().parents[2] / "cot_methods" / "testbed" / "arith_testbed")
    out = tmp_path / "out"
    proc = cotbench(
        "eval", "--model", "cotbench-vanilla", "--model_args", f"pretrained={testbed}", "--tasks", "cot_arith_hard", "--repeats", "4",
        "--limit", "8", "--batch_size", "32", "--apply_chat_template", "--gen_kwargs", "max_gen_toks=160", "--log_samples", "--output_path", str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "maj@4" in proc.stdout  # lm-eval's own results table
    results = json.loads(next(out.rglob("results_*.json")).read_text())["results"]["cot_arith_hard_k4"]
    assert cotbench("report", str(out), "-o", str(tmp_path / "report")).returncode == 0
    summary = json.loads((tmp_path / "report" / "report.json").read_text())["summary"]["cot_arith_hard_k4"]
    assert results["maj@4,all"] == pytest.approx(summary["maj@4"])
    assert results["acc,all"] == pytest.approx(summary["avg@4"]) and results["pass@4,all"] == pytest.approx(summary["pass@4"])
    samples = [json.loads(line) for f in out.rglob("samples_*.jsonl") for line in f.open()]
    answers = [[g["extracted_answer"] for g in s["doc"]["cotbench"]["generations"]] for s in samples]
    assert any(len(set(a)) > 1 for a in answers), "every problem's 4 answers agree: maj@4 is not exercised"
