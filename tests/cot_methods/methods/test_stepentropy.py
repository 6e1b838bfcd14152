"""Post-hoc step entropy records the paper's metric, the thinking-token reduction, and says it
saves no compute (the full thinking is generated first)."""

from types import SimpleNamespace

import pytest

from cotbench.cot_methods.methods.stepentropy import StepEntropyArgs, StepEntropyLM
from cotbench.errors import CotbenchError


def test_records_thinking_token_reduction_and_no_compute_saving(smollm2_path):
    lm = StepEntropyLM(pretrained="smollm2-135m", device="cpu", skip_ratio=0.8)
    request = SimpleNamespace(args=("Tom has 3 apples and buys 4 more.\n\nHow many apples now? Think in short steps.",
                                    {"max_gen_toks": 64, "temperature": 0.0}))
    (out,) = lm.generate_until([request], disable_tqdm=True)
    record = out.cotbench
    fields = record.method_fields
    full, compressed = fields["thinking_tokens_full"], record.thinking_tokens
    assert full > 0
    assert fields["thinking_token_reduction"] == 1 - compressed / full
    assert fields["generated_tokens"] >= full  # every thinking token was decoded anyway
    assert record.adapter["saves_compute"] is False
    assert record.adapter["decoding"]["max_new_tokens"] == 64  # recorded like every generation: runs compare on it


def test_step_split_is_checked_by_name():
    StepEntropyArgs(step_split="token").validate("stepentropy")  # the released code's rule
    with pytest.raises(CotbenchError, match=r"stepentropy: step_split='lines' is invalid \(expected text \| token\)"):
        StepEntropyArgs(step_split="lines").validate("stepentropy")
