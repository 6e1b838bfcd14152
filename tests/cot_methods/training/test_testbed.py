"""The cot_arith testbed model, end to end through the real CLI: it solves the easy level when
it reasons fully, its traces contain the trigger word, EntroCut cuts on it and saves thinking
tokens, and step entropy finds its redundant verification loops low-entropy. Also: the cache
key covers the code that shapes the model (issue 12)."""

import json
import subprocess
import sys
from statistics import mean

import pytest

from cotbench.cot_methods.steps import score_thinking_steps

SAMPLES = 60
ENTROCUT_ARGS = "min_thinking_tokens=0,threshold=0.3"


def evaluate(method: str, extra: str, out):
    proc = subprocess.run(
        [sys.executable, "-m", "cotbench.cli", "eval", "--model", f"cotbench-{method}",
         "--model_args", f"pretrained=arith-testbed{extra}", "--tasks", "cot_arith_easy", "--limit", str(SAMPLES),
         "--batch_size", "16", "--apply_chat_template", "--log_samples", "--output_path", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = out.rglob("samples_cot_arith_easy_*.jsonl")
    return [json.loads(line) for line in path.open()]


@pytest.fixture(scope="module")
def runs(arith_testbed, tmp_path_factory):
    root = tmp_path_factory.mktemp("testbed_runs")
    return {"vanilla": evaluate("vanilla", "", root / "vanilla"), "entrocut": evaluate("entrocut", "," + ENTROCUT_ARGS, root / "entrocut")}


def generations(samples):
    return [g for s in samples for g in s["doc"]["cotbench"]["generations"]]


def test_full_reasoning_solves_the_easy_level(runs):
    records = generations(runs["vanilla"])
    assert len(records) == SAMPLES
    assert mean(g["correct"] for g in records) >= 0.9


def test_traces_contain_the_trigger_word(runs):
    responses = [s["resps"][0][0] for s in runs["vanilla"]]
    assert mean("Wait" in r for r in responses) >= 0.5


def test_entrocut_cuts_and_saves_thinking_tokens(runs):
    cut = generations(runs["entrocut"])
    full = generations(runs["vanilla"])
    assert sum(g["closed_by"] == "method" for g in cut) >= SAMPLES // 2
    assert mean(g["thinking_tokens"] for g in cut) < 0.8 * mean(g["thinking_tokens"] for g in full)


def test_step_entropy_finds_verification_loops_low_entropy(runs, arith_testbed):
    """arXiv 2508.03346's claim, on our testbed: redundant steps carry low entropy."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(arith_testbed)
    model = AutoModelForCausalLM.from_pretrained(arith_testbed).eval()
    loop_scores, other_scores = [], []
    for sample in runs["vanilla"][:30]:
        thinking = sample["resps"][0][0].split("</think>")[0]
        prompt = sample["arguments"]["gen_args_0"]["arg_0"]  # already chat-templated by lm-eval
        context = tokenizer.encode(prompt, add_special_tokens=False)
        decoded, steps, scores = score_thinking_steps(model, tokenizer, context, thinking, "mean")
        for step, score in zip(steps, scores):
            (loop_scores if step.text(decoded).startswith("Wait, let me") else other_scores).append(score)
    assert loop_scores and other_scores
    assert mean(loop_scores) < mean(other_scores)


def test_cache_key_covers_every_source_that_shapes_the_model():
    """Issue 12: the key names each module that shapes the model, so none can change unseen."""
    from cotbench.cot_methods.training import testbed

    hashed = {entry.split(":")[0] for entry in testbed.MODEL_SOURCES}
    assert {"cotbench.cot_methods.training.testbed", "cotbench.cot_methods.training.arith_traces",
            "cotbench.harness_tasks.arith", "cotbench.harness_tasks.utils"} <= hashed
    assert "CHAT_TEMPLATE = (" in testbed._source_text("cotbench.cot_methods.training.testbed")
    assert testbed._source_text("cotbench.harness_tasks.utils:doc_to_text_math").startswith("def doc_to_text_math")
    assert testbed.testbed_key() == testbed.testbed_key()
    assert testbed.testbed_key(testbed.TestbedConfig(seed=1)) != testbed.testbed_key()


def test_a_source_change_changes_the_key_and_an_unrelated_file_does_not(tmp_path, monkeypatch):
    """Real files on disk: editing a hashed module rebuilds, editing its neighbour does not."""
    import importlib
    import sys

    from cotbench.cot_methods.training import testbed

    package = tmp_path / "tbkeypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "traces.py").write_text("LOOPS = 3\n")
    (package / "prompts.py").write_text("def prompt(x):\n    return x\n\n\ndef unrelated():\n    return 1\n")
    (package / "unrelated.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(testbed, "MODEL_SOURCES", ("tbkeypkg.traces", "tbkeypkg.prompts:prompt"))
    importlib.invalidate_caches()
    before = testbed.testbed_key()

    (package / "unrelated.py").write_text("X = 2\n")
    assert testbed.testbed_key() == before
    (package / "prompts.py").write_text("def prompt(x):\n    return x\n\n\ndef unrelated():\n    return 2\n")
    sys.modules.pop("tbkeypkg.prompts")
    assert testbed.testbed_key() == before  # only the hashed function counts, not its module
    (package / "traces.py").write_text("LOOPS = 4\n")
    assert testbed.testbed_key() != before
    (package / "traces.py").write_text("LOOPS = 3\n")
    assert testbed.testbed_key() == before
    (package / "prompts.py").write_text("def prompt(x):\n    return x + 1\n\n\ndef unrelated():\n    return 2\n")
    sys.modules.pop("tbkeypkg.prompts")
    assert testbed.testbed_key() != before


def test_the_default_folder_is_named_by_the_code_aware_key(monkeypatch):
    from cotbench.cot_methods.training import testbed

    before = testbed.default_testbed_dir()
    real = testbed._source_text
    monkeypatch.setattr(testbed, "_source_text", lambda entry: real(entry) + ("#" if entry.endswith("arith_traces") else ""))
    assert testbed.default_testbed_dir() != before
