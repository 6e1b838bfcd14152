"""The cot_arith testbed model, end to end through the real CLI: it solves the easy level when
it reasons fully, its traces contain the trigger word, EntroCut cuts on it and saves thinking
tokens, and step entropy finds its redundant loops lower-entropy than the steps that compute. Then the
properties issue 12 asks of it — that it tells entropy-gated cutting from naive cutting —
as bands with the real adapters, and that the cache key covers the code that shapes the model."""

import json
import subprocess
import sys
from statistics import mean

import pytest

from cotbench.cot_methods.steps import score_thinking_steps

SAMPLES = 60
ENTROCUT_ARGS = "min_thinking_tokens=0,threshold=0.3"


def evaluate(method: str, extra: str, out, level: str = "easy", limit: int = SAMPLES):
    proc = subprocess.run(
        [sys.executable, "-m", "cotbench.cli", "eval", "--model", f"cotbench-{method}",
         "--model_args", f"pretrained=arith-testbed{extra}", "--tasks", f"cot_arith_{level}", "--limit", str(limit),
         "--batch_size", "32", "--apply_chat_template", "--log_samples", "--output_path", str(out)],
        capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = out.rglob(f"samples_cot_arith_{level}_*.jsonl")
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


# Measured on the build of this commit (weights 06a63bc4…, 2026-12-01): loops 0.085 nats mean, computing
# steps 0.093. With three loop openers the choice among them made the loops the higher (0.137 vs
# 0.116, build c0dbfe3); one opener leaves a loop only the uncertainty of whether it comes.
def test_step_entropy_finds_verification_loops_low_entropy(runs, arith_testbed):
    """arXiv 2508.03346's claim, on our testbed: redundant steps carry lower entropy than the
    steps that compute."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(arith_testbed)
    model = AutoModelForCausalLM.from_pretrained(arith_testbed).eval()
    loop_scores, first_pass_scores = [], []
    for sample in runs["vanilla"][:30]:
        thinking = sample["resps"][0][0].split("</think>")[0]
        prompt = sample["arguments"]["gen_args_0"]["arg_0"]  # already chat-templated by lm-eval
        context = tokenizer.encode(prompt, add_special_tokens=False)
        decoded, steps, scores = score_thinking_steps(model, tokenizer, context, thinking, "mean")
        for step, score in zip(steps, scores):
            text = step.text(decoded)
            if text.startswith("Wait, let me"):
                loop_scores.append(score)
            elif "=" in text:  # a first-pass step that computes (not the fixed-text cautions)
                first_pass_scores.append(score)
    assert loop_scores and first_pass_scores
    assert mean(loop_scores) < mean(first_pass_scores), (mean(loop_scores), mean(first_pass_scores))


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


# --- Issue 12 item 3: the testbed tells entropy-gated cutting from naive cutting -------------
# Bands asserted on a fresh build at fixed seeds (the task's decoding, T = 0.6 / top-p 0.95 with
# its seed; the first PROPERTY_SAMPLES test problems of each level); the measured figures are in
# the README and each assertion's message.
PROPERTY_SAMPLES = 60
TESTBED_TAU = 0.15  # EntroCut's fallback τ (entrocut.FALLBACK_THRESHOLD): the default for this model
TAU_SWEEP = (0.15, 0.3, 0.6)  # medium: EntroCut's best τ among these
FIRST_TRIGGER = ",threshold=inf,min_thinking_tokens=0"  # cut at the first "Wait": the naive control
NEVER_CUT = ",threshold=0,min_thinking_tokens=0"  # probe at every trigger, never cut: probe statistics


def accuracy(samples) -> float:
    return mean(g["correct"] for g in generations(samples))


def total_tokens(samples) -> float:
    return mean(g["total_tokens"] for g in generations(samples))


def probe_points(samples) -> list[tuple[float, bool]]:
    """(probe entropy score, probe answer correct?) at every trigger of every generation."""
    points = []
    for sample in samples:
        answer = str(sample["doc"]["answer"])
        for generation in sample["doc"]["cotbench"]["generations"]:
            for probe in generation["probes"]:
                points.append((probe["score"], probe["probe_text"].split("}")[0].strip() == answer))
    return points


@pytest.fixture(scope="module")
def property_runs(arith_testbed, tmp_path_factory):
    root = tmp_path_factory.mktemp("testbed_properties")

    def run(name, method, extra, level):
        return evaluate(method, extra, root / name, level=level, limit=PROPERTY_SAMPLES)

    runs = {f"vanilla-{level}": run(f"vanilla-{level}", "vanilla", "", level) for level in ("easy", "medium", "hard")}
    runs["first-medium"] = run("first-medium", "entrocut", FIRST_TRIGGER, "medium")
    for level in ("easy", "medium"):
        runs[f"probes-{level}"] = run(f"probes-{level}", "entrocut", NEVER_CUT, level)
    runs["entrocut-easy"] = run("entrocut-easy", "entrocut", f",threshold={TESTBED_TAU},min_thinking_tokens=0", "easy")
    for tau in TAU_SWEEP:
        runs[f"entrocut-medium-{tau}"] = run(f"entrocut-medium-{tau}", "entrocut", f",threshold={tau},min_thinking_tokens=0", "medium")
    best = max(TAU_SWEEP, key=lambda tau: accuracy(runs[f"entrocut-medium-{tau}"]))
    runs["entrocut-medium-best"] = runs[f"entrocut-medium-{best}"]
    budget = round(mean(g["thinking_tokens"] for g in generations(runs["entrocut-medium-best"])))
    runs["s1-medium"] = run("s1-medium", "budget", f",thinking_budget={budget},answer_prefix=**Final Answer**\\n", "medium")
    return runs


def test_full_reasoning_beats_closing_at_the_first_trigger_on_medium(property_runs):
    full, first = accuracy(property_runs["vanilla-medium"]), accuracy(property_runs["first-medium"])
    assert full - first >= 0.15, f"vanilla {full:.2f} vs first-trigger cut {first:.2f} on medium"


def test_entrocut_keeps_easy_accuracy_and_saves_tokens(property_runs):
    vanilla, cut = property_runs["vanilla-easy"], property_runs["entrocut-easy"]
    loss = accuracy(vanilla) - accuracy(cut)
    saving = 1 - total_tokens(cut) / total_tokens(vanilla)
    assert loss <= 0.02 and saving >= 0.30, f"easy: accuracy lost {loss:.3f}, tokens saved {saving:.2f}"


def test_entrocuts_best_tau_beats_the_first_trigger_and_an_equal_token_budget_on_medium(property_runs):
    best = accuracy(property_runs["entrocut-medium-best"])
    first, s1 = accuracy(property_runs["first-medium"]), accuracy(property_runs["s1-medium"])
    assert best > first and best > s1, f"medium: EntroCut best τ {best:.2f}, first trigger {first:.2f}, s1 same tokens {s1:.2f}"


def test_probe_entropy_at_triggers_predicts_probe_correctness(property_runs):
    from scipy.stats import mannwhitneyu

    points = probe_points(property_runs["probes-easy"]) + probe_points(property_runs["probes-medium"])
    right = [-score for score, ok in points if ok]
    wrong = [-score for score, ok in points if not ok]
    assert right and wrong, f"{len(right)} correct and {len(wrong)} wrong probe answers"
    auroc = mannwhitneyu(right, wrong).statistic / (len(right) * len(wrong))
    assert auroc >= 0.75, f"AUROC {auroc:.3f} over {len(points)} probes"


# Measured on the build of this commit (weights 06a63bc4…, 800 steps): 14/60 = 23.3 %. At 700 steps
# (build d6fbf43) 6/60 = 10.0 %: the model lost track of which operation comes next and copied an
# earlier one again. Builds that changed the data instead collapsed medium: hard at 4 steps (2 %), hard
# a fifth of the mix (22 %), operations numbered "First, … Second, …" in one paragraph or one per line
# (23/40 and 3/40, greedy, first 40 problems).
def test_hard_is_solved_sometimes_with_full_reasoning(property_runs):
    assert accuracy(property_runs["vanilla-hard"]) > 0.10


@pytest.mark.slow
def test_two_builds_from_one_seed_are_byte_identical(tmp_path):
    """Reproducibility (issue 12): same config and code, same weights' bytes; another seed differs."""
    import dataclasses

    from cotbench.cot_methods.training.testbed import TestbedConfig, build_testbed, weights_sha256

    small = dataclasses.replace(TestbedConfig(), steps=3, warmup_steps=1, batch_size=8, drill_batch_size=8, tokenizer_corpus=300)
    first = weights_sha256(build_testbed(tmp_path / "a", small, log=lambda message: None))
    again = weights_sha256(build_testbed(tmp_path / "b", small, log=lambda message: None))
    other = weights_sha256(build_testbed(tmp_path / "c", dataclasses.replace(small, seed=1), log=lambda message: None))
    assert first == again != other
    assert json.loads((tmp_path / "a" / "testbed.json").read_text())["weights_sha256"] == first
