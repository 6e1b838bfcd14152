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


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    """The embedded SmolLM2-135M-Instruct, converted once from its GGUF and cached."""
    from cotbench.cot_methods.model_loading import resolve_pretrained

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
