"""Fair comparisons by construction: which settings must agree between a method run and its
baseline, how absent and explicit defaults compare, and the one-line refusal."""

from pathlib import Path

import pytest

from cotbench.errors import CotbenchError
from cotbench.record import GenerationRecord
from cotbench.reports.runs import Run, Sample, check_comparable, comparison_settings

TASKS = ("cot_gsm8k", "cot_mmlu")


def make_run(name="run", model="m", limit=4, version=1.0, tasks=TASKS, date=0.0, samples=2, **generation):
    gen = {"until": [], "do_sample": False, "temperature": 0, "max_gen_toks": 48, **generation}
    config = {
        "config": {"limit": limit}, "versions": {t: version for t in tasks}, "date": date,
        "configs": {t: {"generation_kwargs": dict(gen)} for t in tasks},
    }
    records = {t: [Sample(str(i), [GenerationRecord(correct=True, total_tokens=10, thinking_tokens=5)]) for i in range(samples)] for t in tasks}
    return Run(path=Path(f"/runs/{name}"), model=model, adapter="cotbench-vanilla", model_args=f"pretrained={model}", config=config, versions={}, tasks=records)


def test_runs_made_alike_compare_without_mismatch():
    assert check_comparable(make_run(), make_run("b")) == {t: [] for t in TASKS}


def test_explicit_defaults_equal_absent_ones():
    base = make_run()
    explicit = make_run("b", top_p=1.0, top_k=-1, min_p=0.0, presence_penalty=0.0, repetition_penalty=1.0)
    assert check_comparable(explicit, base) == {t: [] for t in TASKS}
    assert comparison_settings(make_run(top_k=0), "cot_gsm8k")["top_k"] is None


def test_greedy_ignores_the_temperature_it_never_uses():
    assert check_comparable(make_run(temperature=0.6, do_sample=False), make_run("b")) == {t: [] for t in TASKS}


@pytest.mark.parametrize("change,named", [
    ({"model": "other"}, "model 'm' (baseline) vs 'other' (run)"),
    ({"version": 2.0}, "task version 1 (baseline) vs 2 (run)"),
    ({"limit": 8}, "limit 4 (baseline) vs 8 (run)"),
    ({"temperature": 0.6, "do_sample": True}, "temperature 0 (baseline) vs 0.6 (run)"),
    ({"top_p": 0.95}, "top_p 1 (baseline) vs 0.95 (run)"),
    ({"top_k": 20}, "top_k unset (baseline) vs 20 (run)"),
    ({"min_p": 0.05}, "min_p 0 (baseline) vs 0.05 (run)"),
    ({"presence_penalty": 1.5}, "presence_penalty 0 (baseline) vs 1.5 (run)"),
    ({"repetition_penalty": 1.1}, "repetition_penalty 1 (baseline) vs 1.1 (run)"),
    ({"max_gen_toks": 32768}, "max_gen_toks 48 (baseline) vs 32768 (run)"),
])
def test_each_differing_setting_is_refused_in_one_line_naming_both_values(change, named):
    run = make_run("method", **change)
    with pytest.raises(CotbenchError) as error:
        check_comparable(run, make_run("baseline"))
    message = str(error.value)
    assert "\n" not in message and named in message and "--allow-mismatch" in message
    assert ("different model" in message) == ("model" in change)
    allowed = check_comparable(run, make_run("baseline"), allow_mismatch=True)
    assert allowed == {t: [named] for t in TASKS}


def test_no_task_in_common_is_refused():
    with pytest.raises(CotbenchError, match="no task in common"):
        check_comparable(make_run(tasks=("cot_gsm8k",)), make_run("b", tasks=("cot_mmlu",)))


def test_a_repeats_task_with_missing_generations_is_partial_output(tmp_path):
    import json

    from cotbench.reports.runs import load_run

    stamp = "2026-01-01T00-00-00"
    task = "cot_gsm8k_k2"
    (tmp_path / f"results_{stamp}.json").write_text(json.dumps({"results": {task: {}}, "configs": {task: {}}, "config": {}, "n-samples": {task: {"effective": 1}}}))
    generation = {"correct": True, "total_tokens": 3}
    samples = tmp_path / f"samples_{task}_{stamp}.jsonl"
    samples.write_text(json.dumps({"doc_id": 0, "doc": {"cotbench": {"id": "a", "generations": [generation, generation]}}}) + "\n")
    assert len(load_run(tmp_path).tasks[task][0].generations) == 2
    samples.write_text(json.dumps({"doc_id": 0, "doc": {"cotbench": {"id": "a", "generations": [generation]}}}) + "\n")
    with pytest.raises(CotbenchError, match="sample a has 1 generations but cot_gsm8k_k2 asks for 2; partial output"):
        load_run(tmp_path)
