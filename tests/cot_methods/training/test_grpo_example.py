"""The GRPO example: one TRL GRPO step on SmolLM2 on the CPU with both rewards (~20 s)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "grpo_smollm2.py"


@pytest.mark.slow
def test_grpo_runs_with_our_rewards(tmp_path, smollm2_path):
    spec = importlib.util.spec_from_file_location("grpo_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--steps", "1", "--output", str(tmp_path), "--completion-tokens", "12"])
    assert result["steps"] == 1
    logged = result["history"][0]
    assert "rewards/step_entropy_reward_code/mean" in logged and "rewards/entra_reward/mean" in logged
