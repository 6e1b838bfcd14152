"""cot_gpqa_diamond: options shuffled once per question by its own seed, the letter graded like MMLU,
the mirror schema checked; on a fixture we wrote (GPQA itself is gated and never committed)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cotbench.errors import CotbenchError
from cotbench.harness_tasks import data
from cotbench.harness_tasks.utils import process_results_mmlu

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE = [json.loads(line) for line in (FIXTURES / "gpqa_diamond" / "test.jsonl").open()]


@pytest.fixture
def mirror(monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(FIXTURES))


def test_options_are_the_four_answers_with_the_correct_letter(mirror):
    rows = data.load_rows("gpqa_diamond")
    for row, source in zip(rows, SOURCE):
        assert sorted(row["choices"]) == sorted([source["answer"], *source["incorrect_answers"]])
        assert row["choices"]["ABCD".index(row["answer"])] == source["answer"]
    assert len({row["answer"] for row in rows}) > 1  # shuffled, not always (A)


def test_each_question_has_one_order_whatever_comes_with_it(tmp_path, monkeypatch, mirror):
    before = {row["id"]: row["choices"] for row in data.load_rows("gpqa_diamond")}
    (tmp_path / "gpqa_diamond").mkdir()
    (tmp_path / "gpqa_diamond" / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in reversed(SOURCE[1:])))
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert all(row["choices"] == before[row["id"]] for row in data.load_rows("gpqa_diamond"))
    # The hub's field names give the same options as the mirror's.
    hub = {"Record ID": "fixture-2", "Question": SOURCE[1]["problem"], "Correct Answer": SOURCE[1]["answer"],
           **{f"Incorrect Answer {i}": text for i, text in enumerate(SOURCE[1]["incorrect_answers"], start=1)}}
    assert data._normalise_hub_row("gpqa_diamond", hub, 0)["choices"] == before["fixture-2"]


def test_graded_like_mmlu_by_letter_or_option_text(mirror):
    row = data.load_rows("gpqa_diamond")[1]
    wrong = next(letter for letter in "ABCD" if letter != row["answer"])
    assert process_results_mmlu(dict(row), [f"</think>\\boxed{{{row['answer']}}}"])["acc"] == 1.0
    assert process_results_mmlu(dict(row), ["</think>The answer is Carbon."])["acc"] == 1.0
    assert process_results_mmlu(dict(row), [f"</think>\\boxed{{{wrong}}}"])["acc"] == 0.0


def test_a_mirror_row_without_three_incorrect_answers_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "gpqa_diamond").mkdir()
    (tmp_path / "gpqa_diamond" / "test.jsonl").write_text(json.dumps({"id": "q", "problem": "p", "answer": "a", "incorrect_answers": ["b"]}) + "\n")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(CotbenchError, match=r"row q needs 'incorrect_answers', a list of three non-empty strings"):
        data.load_rows("gpqa_diamond")


def test_the_task_runs_through_the_cli(tmp_path):
    env = {**__import__("os").environ, data.DATA_DIR_ENV: str(FIXTURES)}
    proc = subprocess.run(
        [sys.executable, "-m", "cotbench.cli", "eval", "--model", "dummy", "--tasks", "cot_gpqa_diamond", "--log_samples", "--output_path", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(next(tmp_path.rglob("results_*.json")).read_text())["results"]["cot_gpqa_diamond"]["acc,all"] == 0.0  # "lol"
    samples = [json.loads(line) for f in tmp_path.rglob("samples_cot_gpqa_diamond_*.jsonl") for line in f.open()]
    assert len(samples) == 4
    for sample in samples:
        prompt, doc = sample["arguments"]["gen_args_0"]["arg_0"], sample["doc"]
        assert all(f"({letter}) {choice}" in prompt for letter, choice in zip("ABCD", doc["choices"]))
        assert doc["cotbench"]["generations"][0]["reason"] == "no_answer"
