"""The cot_arith testbed model, end to end through the real CLI: it solves the easy level when
it reasons fully, its traces contain the trigger word, EntroCut cuts on it and saves thinking
tokens, and step entropy finds its redundant verification loops low-entropy."""

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
