"""The real `cotbench eval` CLI (lm-eval's, with our adapters registered) on SmolLM2, offline."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cotbench.harness_tasks import TASKS_DIR
from cotbench.harness_tasks.utils import R1_INSTRUCTION


def cotbench(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "cotbench.cli", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def vanilla_run(tmp_path_factory, smollm2_path):
    out = tmp_path_factory.mktemp("vanilla")
    proc = cotbench(
        "eval", "--model", "cotbench-vanilla", "--model_args", "pretrained=smollm2-135m",
        "--tasks", "cot_gsm8k,cot_mmlu", "--limit", "2", "--batch_size", "2", "--apply_chat_template",
        "--gen_kwargs", "max_gen_toks=24", "--log_samples", "--output_path", str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_results_json_has_token_metrics(vanilla_run):
    out, proc = vanilla_run
    results_file = next(Path(out).rglob("results_*.json"))
    results = json.loads(results_file.read_text())["results"]
    for task in ("cot_gsm8k", "cot_mmlu"):
        metrics = results[task]
        assert metrics["total_tokens,all"] == 24  # every generation hits the 24-token limit
        assert metrics["truncated,all"] == 1.0
        assert metrics["thinking_tokens,all"] + metrics["answer_tokens,all"] == 24
        assert "cotbench,all" not in metrics and 0 <= metrics["acc,all"] <= 1
    assert "total_tokens" in proc.stdout  # lm-eval's own results table shows them


def test_sample_records_carry_the_accounting(vanilla_run):
    out, _ = vanilla_run
    samples = [json.loads(line) for f in Path(out).rglob("samples_cot_gsm8k_*.jsonl") for line in f.open()]
    assert len(samples) == 2
    for sample in samples:
        assert R1_INSTRUCTION in sample["arguments"]["gen_args_0"]["arg_0"]
        assert "<|im_start|>assistant" in sample["arguments"]["gen_args_0"]["arg_0"]  # the chat template was applied
        record = sample["doc"]["cotbench"]["generations"][0]
        for field in ("extracted_answer", "correct", "reason", "thinking_tokens", "answer_tokens", "total_tokens", "truncated"):
            assert field in record
        assert record["total_tokens"] == 24 and record["truncated"] is True
        assert record["adapter"]["method"] == "vanilla"
        assert sample["doc"]["cotbench"]["id"] == sample["doc"]["id"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--tasks", "cot_nope"], "Tasks not found: cot_nope"),
        (["--tasks", "cot_gsm8k", "--model_args", "pretrained=smollm2-135m,bogus=1"], "unknown model_arg 'bogus'"),
        (["--tasks", "cot_gsm8k", "--model_args", "pretrained=smollm2-135m,entropy_unit=decibels"], "entropy_unit='decibels'"),
    ],
)
def test_bad_input_is_one_line(args, message, smollm2_path):
    base = ["eval", "--model", "cotbench-vanilla", "--model_args", "pretrained=smollm2-135m", "--limit", "1"]
    proc = cotbench(*base, *args)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("cotbench: error:") and message in last
    assert "Traceback" not in proc.stderr


def test_missing_data_file_is_one_line(tmp_path, monkeypatch, smollm2_path):
    monkeypatch.setenv("COTBENCH_DATA_DIR", str(tmp_path))
    proc = cotbench("eval", "--model", "cotbench-vanilla", "--tasks", "cot_gsm8k", "--limit", "1")
    assert proc.returncode == 2
    assert str(tmp_path / "gsm8k" / "test.jsonl") in proc.stderr.strip().splitlines()[-1]


METHOD_ARGS = {
    "entrocut": "triggers=The|So|We|To|First,min_thinking_tokens=0,threshold=100",
    "nowait": "",
    "budget": "thinking_budget=8",
    "deer": "triggers=The|So|We|To|First,think_ratio=1.0,limit_margin=0",
    "dynasor": "chunk_size=8,consistency=2",
    "eat": "min_steps=1",
    "stepentropy": "skip_ratio=0.8",
    "skip": "",
    "entra": "analysis=true",
}


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(METHOD_ARGS))
def test_every_method_runs_through_the_cli_with_its_trace(method, tmp_path, smollm2_path):
    model_args = ",".join(filter(None, ["pretrained=smollm2-135m", METHOD_ARGS[method]]))
    proc = cotbench(
        "eval", "--model", f"cotbench-{method}", "--model_args", model_args, "--tasks", "cot_gsm8k",
        "--limit", "2", "--batch_size", "2", "--apply_chat_template", "--gen_kwargs", "max_gen_toks=32,temperature=0",
        "--log_samples", "--output_path", str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    samples = [json.loads(line) for f in tmp_path.rglob("samples_cot_gsm8k_*.jsonl") for line in f.open()]
    assert len(samples) == 2
    records = [s["doc"]["cotbench"]["generations"][0] for s in samples]
    for record in records:
        assert record["adapter"]["method"] == method
        assert record["total_tokens"] == record["thinking_tokens"] + record["answer_tokens"]
        assert "probes" in record and "cut_position" in record
    if method in ("entrocut", "deer", "dynasor"):
        assert any(r["probes"] for r in records)
    if method in ("entrocut", "budget"):
        assert all(r["closed_by"] == "method" for r in records)
    if method == "stepentropy":
        for r in records:
            assert len(r["skipped_steps"]) == int(0.8 * r["steps"]) and r["generated_tokens"] > r["thinking_tokens"]
            assert r["thinking_tokens"] <= r["thinking_tokens_full"] + 2
    if method == "skip":
        assert all("skip_ratio" in r and "skip_steps" in r for r in records)
    if method == "entra":
        assert all(0 <= r["redundancy_score"] <= 1 and "mean_importance" in r["bie"] for r in records)


@pytest.mark.slow
def test_repeats_give_avg_at_k_and_pass_at_k(tmp_path, smollm2_path):
    from cotbench.harness_tasks import TASKS_DIR

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "cot_gsm8k_k2.yaml").write_text(f"include: {TASKS_DIR}/cot_gsm8k.yaml\ntask: cot_gsm8k_k2\nrepeats: 2\n")
    proc = cotbench(
        "eval", "--model", "cotbench-vanilla", "--model_args", "pretrained=smollm2-135m", "--tasks", "cot_gsm8k_k2",
        "--include_path", str(tasks), "--limit", "1", "--batch_size", "2", "--apply_chat_template",
        "--gen_kwargs", "max_gen_toks=8", "--log_samples", "--output_path", str(tmp_path / "out"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(next((tmp_path / "out").rglob("results_*.json")).read_text())["results"]["cot_gsm8k_k2"]
    assert "pass@2,all" in results and "cotbench,all" not in results
    sample = json.loads(next((tmp_path / "out").rglob("samples_*.jsonl")).read_text().splitlines()[0])
    generations = sample["doc"]["cotbench"]["generations"]
    assert len(generations) == 2
    assert len(sample["resps"][0]) == 2


# `cotbench eval` parses with lm-eval's own parser: every spelling lm-eval accepts, with --repeats.
# In-process through `main` (the console script's entry point) with lm-eval's `dummy` model,
# which answers "lol" at once: the whole CLI in about a second per run.
def in_process(capsys, *args) -> tuple[int, str, str]:
    from cotbench.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def dummy_eval(capsys, *args, output_path):
    return in_process(capsys, "eval", "--model", "dummy", "--limit", "1", "--output_path", str(output_path), *args)


def results_of(output_path) -> dict:
    return json.loads(next(Path(output_path).rglob("results_*.json")).read_text())


@pytest.mark.parametrize(
    "tasks",
    [
        ["--tasks", "cot_gsm8k", "cot_aime24"],
        ["--tasks", "cot_gsm8k,cot_aime24"],
        ["-t", "cot_gsm8k", "cot_aime24"],
        ["--tasks=cot_gsm8k,cot_aime24"],
        ["-t", "cot_gsm8k", "-t", "cot_aime24"],
    ],
    ids=["space", "comma", "-t", "--tasks=", "-t twice"],
)
def test_every_task_spelling_works_with_repeats(tasks, tmp_path, capsys):
    code, out, err = dummy_eval(capsys, *tasks, "--repeats", "2", output_path=tmp_path)
    assert code == 0, err[-3000:]
    results = results_of(tmp_path)
    assert set(results["results"]) == {"cot_gsm8k_k2", "cot_aime24_k2"}
    assert {config["repeats"] for config in results["configs"].values()} == {2}
    assert "pass@2" in out  # lm-eval's own table


def test_cot_and_other_tasks_together(tmp_path):
    """A task that is not ours makes lm-eval index its own tasks too (the cot-only shortcut is off);
    a subprocess, so the indexing is the real CLI's."""
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "my_arith.yaml").write_text(f"include: {TASKS_DIR}/cot_arith_easy.yaml\ntask: my_arith\n")
    proc = cotbench("eval", "--model", "dummy", "--limit", "1", "--tasks", "cot_gsm8k", "my_arith", "--include_path", str(tmp_path / "tasks"),
                    "--output_path", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(results_of(tmp_path / "out")["results"]) == {"cot_gsm8k", "my_arith"}


def test_eval_help_is_lm_evals_with_repeats():
    proc = cotbench("eval", "--help")
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: cotbench eval")
    for flag in ("--repeats <n>", "--tasks", "--model_args", "--gen_kwargs", "--apply_chat_template", "--log_samples"):
        assert flag in proc.stdout


def test_version_names_cotbench_and_lm_eval():
    import importlib.metadata

    from cotbench import __version__

    proc = cotbench("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"cotbench {__version__} (lm-eval {importlib.metadata.version('lm_eval')})"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--repeats", "2"], "cotbench: error: --repeats needs --tasks (the cot_* tasks to repeat)"),
        (["--tasks", "cot_gsm8k", "gsm8k", "--repeats", "2"], "cotbench: error: --repeats: 'gsm8k' is not a cotbench task"),
        (["-t", "cot_gsm8k", "--repeats", "two"], "cotbench: error: --repeats 'two': expected a whole number"),
        (["-t", "cot_gsm8k", "--bogus"], "cotbench: error: cotbench eval: unrecognized arguments: --bogus"),
        (["-t", "cot_gsm8k", "--limit", "many"], "cotbench: error: cotbench eval: argument --limit/-L: invalid float value: 'many'"),
    ],
)
def test_bad_eval_arguments_are_one_line(args, message, tmp_path, capsys):
    code, _, err = dummy_eval(capsys, *args, output_path=tmp_path)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(message), err[-2000:]
    assert "Traceback" not in err and "usage:" not in err


@pytest.mark.parametrize(
    "args,message",
    [
        (["--recipe", "skip-rl"], "--recipe='skip-rl' is invalid (expected skip-sft | skip-grpo | entra-grpo)"),
        (["--recipe", "skip-grpo"], "--recipe skip-grpo: pass --base FOLDER, a skip-sft checkpoint"),
        (["--recipe", "entra-grpo", "--top-fraction", "1.5"], "--top-fraction=1.5 is invalid (expected a fraction in [0, 1))"),
        (["--recipe", "skip-sft", "--size", "huge"], "--size='huge' is invalid (expected full | mini)"),
        (["--recipe", "skip-grpo", "--base", "/nowhere/skip-sft"], "--base /nowhere/skip-sft: not a model folder"),
        (["--recipe", "skip-sft", "--steps", "0"], "--steps=0 is invalid (expected a positive integer)"),
    ],
)
def test_bad_training_arguments_are_one_line_before_any_training(args, message, tmp_path, capsys):
    code, _, err = in_process(capsys, "testbed", "train", "-o", str(tmp_path / "ckpt"), *args)
    assert code == 2 and message in err.strip().splitlines()[-1], err[-2000:]
    assert "Traceback" not in err and not (tmp_path / "ckpt").exists()
