"""The compressed-CoT SFT data builder on lm-eval sample files and plain JSONL."""

import copy
import inspect
import json

import pytest

from cotbench.cot_methods.training.sft_data import (
    AnswerRegenerator,
    add_skip_tokens,
    build_sft_dataset,
    compress_trace,
    example_tokens,
    read_traces,
)
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
    assert build_sft_dataset(model, tok, [str(samples), str(plain)], str(out), answer="copy") == 2
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


def test_answer_is_regenerated_from_the_compressed_thinking_by_default(smollm2):
    model, tok = smollm2
    assert inspect.signature(build_sft_dataset).parameters["answer"].default == "regenerate"
    seen = []

    def hook(prompt_text, continuation):
        seen.append((prompt_text, continuation))
        return "So \\boxed{5}."

    example = compress_trace(model, tok, "What is 2+3?", RESPONSE, regenerate=hook)
    (prompt_text, continuation), = seen
    assert "What is 2+3?" in prompt_text and continuation.endswith("\n</think>\n\n")
    assert continuation.count("[SKIP]") == 4
    content = example["completion"][0]["content"]
    assert content == continuation + "So \\boxed{5}."
    assert "The answer is" not in content  # the full trace's answer is not copied


def test_default_regenerator_generates_with_the_scoring_model(smollm2):
    model, tok = smollm2
    regenerator = AnswerRegenerator(model, tok, max_new_tokens=6)
    assert (regenerator.temperature, regenerator.top_p) == (0.6, 0.95)  # official answer request
    example = compress_trace(model, tok, "What is 2+3?", RESPONSE, regenerate=regenerator)
    content = example["completion"][0]["content"]
    compressed_and_close, generated = content.split("\n</think>\n\n")
    again = AnswerRegenerator(model, tok, max_new_tokens=6)(example_prompt(tok), compressed_and_close + "\n</think>\n\n")
    assert generated == again and generated != "The answer is \\boxed{5}."


def example_prompt(tok):
    return tok.apply_chat_template([{"role": "user", "content": "What is 2+3?"}], tokenize=False, add_generation_prompt=True)


def test_skip_is_a_special_token_and_long_examples_are_dropped(smollm2, tmp_path):
    model, tok = smollm2
    plain_tok, special_tok = copy.deepcopy(tok), copy.deepcopy(tok)
    assert len(plain_tok.encode("[SKIP]", add_special_tokens=False)) > 1
    assert add_skip_tokens(special_tok) >= 1 and len(special_tok.encode("[SKIP]", add_special_tokens=False)) == 1
    assert add_skip_tokens(special_tok) == 0  # idempotent
    long_response = "".join(f"Step {i} adds one more.\n\n" for i in range(40)) + "Done.</think>\\boxed{40}"
    traces = tmp_path / "traces.jsonl"
    traces.write_text(json.dumps({"problem": "Count.", "response": long_response}) + "\n")
    example = compress_trace(model, tok, "Count.", long_response, answer="copy")
    with_special, as_text = example_tokens(special_tok, example), example_tokens(plain_tok, example)
    assert with_special < as_text
    out = tmp_path / "sft.jsonl"
    budget = (with_special + as_text) // 2  # fits only when [SKIP] is one token
    assert build_sft_dataset(model, tok, [str(traces)], str(out), answer="copy", max_tokens=budget) == 1
    assert build_sft_dataset(model, tok, [str(traces)], str(out), answer="copy", max_tokens=budget, skip_special_token=False) == 0
    assert build_sft_dataset(model, tok, [str(traces)], str(out), answer="copy", max_tokens=with_special - 1) == 0
    assert build_sft_dataset(model, tok, [str(traces)], str(out), answer="copy", max_tokens=None) == 1
    assert len(tok.encode("[SKIP]", add_special_tokens=False)) > 1  # the scoring tokenizer is untouched
    assert inspect.signature(build_sft_dataset).parameters["max_tokens"].default == 4096
