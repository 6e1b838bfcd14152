"""The compressed-CoT SFT data builder on lm-eval sample files and plain JSONL."""

import json

import pytest

from cotbench.cot_methods.training.sft_data import build_sft_dataset, read_traces
from cotbench.errors import CotbenchError

RESPONSE = "Step one.\n\nStep two is here.\n\nWait, check again.\n\nStep four.\n\nStep five!</think>The answer is \\boxed{5}."


def test_builder_writes_trl_prompt_completion_pairs(smollm2, tmp_path):
    model, tok = smollm2
    samples = tmp_path / "samples_cot_gsm8k.jsonl"
    samples.write_text(json.dumps({"doc": {"problem": "What is 2+3?"}, "resps": [[RESPONSE]]}) + "\n"
                       + json.dumps({"doc": {"problem": "No think"}, "resps": [["just text"]]}) + "\n")
    plain = tmp_path / "traces.jsonl"
    plain.write_text(json.dumps({"problem": "Again?", "response": RESPONSE}) + "\n")
    out = tmp_path / "sft.jsonl"
    assert build_sft_dataset(model, tok, [str(samples), str(plain)], str(out)) == 2
    rows = [json.loads(line) for line in out.open()]
    assert rows[0]["prompt"] == [{"role": "user", "content": "What is 2+3?"}]
    content = rows[0]["completion"][0]["content"]
    thinking, answer = content.split("</think>")
    assert answer == "The answer is \\boxed{5}."
    parts = thinking.split("\n\n")
    assert len(parts) == 5 and parts.count("[SKIP]") == 4  # floor(0.8 * 5)
    assert [p for p in parts if p != "[SKIP]"][0] in RESPONSE


def test_bad_trace_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": 1}\n')
    with pytest.raises(CotbenchError, match="bad.jsonl:1"):
        read_traces(bad)
