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


# -- the decoding that ran, not the one lm-eval was configured with ---------------------------------
# lm-eval's configuration is the same for a DEER protocol=paper run and a default-protocol vanilla
# run (the protocol is a model_arg); only the records say that DEER decoded greedily with 16,000
# tokens. The records below are real generations on SmolLM2; the folders are lm-eval's layout.
QUESTIONS = ("What is 2 + 3?", "What is 4 + 4?")
CONFIGURED = {"max_gen_toks": 4, "temperature": 0.6, "do_sample": True, "until": [".", "\n"]}


def _records(cls, **model_args) -> list[dict]:
    from types import SimpleNamespace

    lm = cls(pretrained="smollm2-135m", device="cpu", batch_size=1, **model_args)
    texts = lm.generate_until([SimpleNamespace(args=(question, CONFIGURED)) for question in QUESTIONS], disable_tqdm=True)
    return [text.cotbench.graded("5", True, "correct", True).to_json() for text in texts]


def _write_run(folder: Path, adapter: str, model_args: str, records: list[dict], configured: dict = CONFIGURED) -> Path:
    """An lm-eval output folder (results JSON and samples JSONL) holding `records`."""
    import json

    stamp, task = "2026-01-01T00-00-00", "cot_gsm8k"
    folder.mkdir(parents=True)
    results = {"results": {task: {}}, "configs": {task: {"generation_kwargs": configured}}, "versions": {task: 1},
               "config": {"model": adapter, "model_args": model_args, "limit": len(records)}, "n-samples": {task: {"effective": len(records)}}}
    (folder / f"results_{stamp}.json").write_text(json.dumps(results))
    lines = [json.dumps({"doc_id": i, "doc": {"cotbench": {"id": str(i), "generations": [record]}}}) for i, record in enumerate(records)]
    (folder / f"samples_{task}_{stamp}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def vanilla_and_deer_paper(smollm2_path, tmp_path_factory) -> tuple[Path, Path]:
    from cotbench.cot_methods.methods.deer import DeerLM
    from cotbench.cot_methods.methods.vanilla import VanillaLM

    root = tmp_path_factory.mktemp("decoding")
    vanilla = _write_run(root / "vanilla", "cotbench-vanilla", "pretrained=smollm2-135m", _records(VanillaLM))
    deer = _write_run(root / "deer", "cotbench-deer", "pretrained=smollm2-135m,protocol=paper", _records(DeerLM, protocol="paper"))
    return vanilla, deer


def _cli(capsys, *args) -> tuple[int, list[str]]:
    from cotbench.cli import main

    code = main(list(args))
    return code, capsys.readouterr().err.splitlines()


def test_a_paper_protocol_run_is_refused_against_a_default_protocol_baseline(vanilla_and_deer_paper, tmp_path, capsys):
    from cotbench.cot_methods.methods.deer import DeerLM

    vanilla, deer = vanilla_and_deer_paper
    paper = DeerLM.PAPER_PROTOCOL.decoding
    expected = [f"temperature {CONFIGURED['temperature']:g} (baseline) vs {paper['temperature']:g} (run)",
                f"max_gen_toks {CONFIGURED['max_gen_toks']} (baseline) vs {paper['max_gen_toks']} (run)"]
    for args in (("compare", str(vanilla), str(deer)), ("report", str(deer), "--baseline", str(vanilla), "-o", str(tmp_path / "out"))):
        code, lines = _cli(capsys, *args)
        assert code == 2 and len(lines) == 1, lines
        assert all(text in lines[0] for text in expected), lines[0]
    assert not (tmp_path / "out").exists()
    assert _cli(capsys, "compare", str(vanilla), str(vanilla))[0] == 0  # made alike: compared


def test_a_run_without_cotbench_records_is_compared_as_configured_and_the_refusal_says_so(vanilla_and_deer_paper, tmp_path, capsys):
    """A plain lm-eval model records no decoding: its configured generation_kwargs stand in, and the line says so."""
    vanilla, _ = vanilla_and_deer_paper
    plain_records = [{"correct": True, "total_tokens": 3, "token_source": "tokenizer smollm2"} for _ in QUESTIONS]
    plain = _write_run(tmp_path / "plain", "hf", "pretrained=smollm2-135m", plain_records, {**CONFIGURED, "max_gen_toks": 8})
    code, lines = _cli(capsys, "compare", str(plain), str(vanilla))
    assert code == 2 and len(lines) == 1, lines
    assert "max_gen_toks 8 (baseline) vs 4 (run)" in lines[0]
    assert "decoding of the baseline as configured (generation_kwargs): no cotbench records" in lines[0]
