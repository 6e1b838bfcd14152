"""Every cot_* task loads through lm-eval's TaskManager from the data mirror and renders real rows."""

import pytest
from lm_eval.tasks import TaskManager

from cotbench.harness_tasks import TASKS_DIR
from cotbench.harness_tasks.utils import MC_INSTRUCTION, R1_INSTRUCTION

EXPECTED_ROWS = {"cot_aime24": 30, "cot_aime25": 30, "cot_amc23": 40, "cot_math500": 500, "cot_gsm8k": 1319, "cot_mmlu": 14042}


@pytest.fixture(scope="module")
def tasks():
    manager = TaskManager(include_path=TASKS_DIR, include_defaults=False)
    loaded = manager.load(["cot_all"])
    return loaded["tasks"], loaded["groups"], manager


def test_all_tasks_and_groups_are_indexed(tasks):
    _, _, manager = tasks
    for name in [*EXPECTED_ROWS, "cot_math", "cot_all"]:
        assert name in manager.all_tasks, name


def test_groups_contain_the_benchmarks(tasks):
    _, _, manager = tasks
    math_group = manager.load(["cot_math"])
    assert set(math_group["tasks"]) == set(EXPECTED_ROWS) - {"cot_mmlu"}


@pytest.mark.parametrize("name,rows", sorted(EXPECTED_ROWS.items()))
def test_task_rows_and_prompt(tasks, name, rows):
    task = tasks[0][name]
    docs = list(task.test_docs())
    assert len(docs) == rows
    doc = docs[0]
    prompt = task.doc_to_text(doc)
    assert prompt.startswith(doc["problem"])
    assert task.doc_to_target(doc) == doc["answer"]
    assert task.config.output_type == "generate_until"
    gen = task.config.generation_kwargs
    assert (gen["temperature"], gen["top_p"], gen["do_sample"]) == (0.6, 0.95, True)
    if name == "cot_mmlu":
        assert prompt.endswith(MC_INSTRUCTION)
        for letter, choice in zip("ABCD", doc["choices"]):
            assert f"({letter}) {choice}" in prompt
        assert doc["answer"] in "ABCD"
    else:
        assert prompt.endswith(R1_INSTRUCTION)


def test_known_rows_render_with_their_gold(tasks):
    by_id = {d["id"]: d for d in tasks[0]["cot_gsm8k"].test_docs()}
    assert by_id["gsm8k-0000"]["answer"] == "18"
    math = {d["id"]: d for d in tasks[0]["cot_math500"].test_docs()}
    assert math["test/precalculus/807.json"]["answer"] == r"\left( 3, \frac{\pi}{2} \right)"


def test_every_task_reports_acc_and_acc_closed(tasks):
    for name in EXPECTED_ROWS:
        metrics = set(tasks[0][name].aggregation())
        assert {"acc", "acc_closed", "pass@2", "total_tokens"} <= metrics, name
        assert "cotbench" not in metrics, name  # the record travels in the logged doc, not as a metric


def test_mmlu_shares_the_math_settings_and_overrides_prompt_and_grader(tasks):
    mmlu, math = tasks[0]["cot_mmlu"].config, tasks[0]["cot_math500"].config
    assert mmlu.generation_kwargs == math.generation_kwargs and mmlu.metric_list == math.metric_list
    assert mmlu.process_results.__name__ == "process_results_mmlu" and math.process_results.__name__ == "process_results_math"


def test_the_extraction_task_option_reaches_every_row():
    """`--metadata '{"extraction": "strict"}'` (lm-eval's task options) grades box-only."""
    manager = TaskManager(include_path=TASKS_DIR, include_defaults=False, metadata={"extraction": "strict"})
    task = manager.load(["cot_aime24"])["tasks"]["cot_aime24"]
    docs = list(task.test_docs())
    assert {doc["extraction"] for doc in docs} == {"strict"}
    stated = "</think>Therefore, the answer is " + docs[0]["answer"] + "."
    assert task.process_results(docs[0], [[stated]])["acc"] == 0.0
    default = TaskManager(include_path=TASKS_DIR, include_defaults=False).load(["cot_aime24"])["tasks"]["cot_aime24"]
    doc = next(iter(default.test_docs()))
    assert doc["extraction"] == "fallback" and default.process_results(doc, [[stated]])["acc"] == 1.0
