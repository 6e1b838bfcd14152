"""The compressed-CoT SFT data builder on lm-eval sample files and plain JSONL, and what TRL's
SFTTrainer trains on from its file under real reasoning-model chat templates."""

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
from cotbench.thinking import split_thinking

RESPONSE = "Step one.\n\nStep two is here.\n\nWait, check again.\n\nStep four.\n\nStep five!</think>The answer is \\boxed{5}."


def test_builder_writes_trl_prompt_completion_pairs(smollm2, tmp_path):
    model, tok = smollm2
    samples = tmp_path / "samples_cot_gsm8k.jsonl"
    samples.write_text(json.dumps({"doc": {"problem": "What is 2+3?"}, "resps": [[RESPONSE]]}) + "\n"
                       + json.dumps({"doc": {"problem": "No think"}, "resps": [["just text"]]}) + "\n")
    plain = tmp_path / "traces.jsonl"
    plain.write_text(json.dumps({"problem": "Again?", "response": RESPONSE}) + "\n")
    out = tmp_path / "sft.jsonl"
    skipped = []
    assert build_sft_dataset(model, tok, [str(samples), str(plain)], str(out), answer="copy", log=skipped.append) == 2
    assert len(skipped) == 1 and skipped[0].startswith(f"{samples}:2: skipped: no </think>")  # the trace without thinking
    rows = [json.loads(line) for line in out.open()]
    assert rows[0]["prompt"] == example_prompt(tok)  # the problem as the chat template renders it, ready to continue
    content = rows[0]["completion"]
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
    empty = tmp_path / "samples_empty.jsonl"
    empty.write_text(json.dumps({"doc": {"problem": "Q"}, "resps": [[RESPONSE]]}) + "\n" + json.dumps({"doc": {"problem": "Q"}, "resps": []}) + "\n")
    with pytest.raises(CotbenchError, match=r"samples_empty.jsonl:2: expected an lm-eval sample"):  # not an IndexError
        read_traces(empty)


def test_traces_without_thinking_or_steps_are_skipped_with_their_file_and_line(smollm2, tmp_path):
    """A trace that never closed its thinking, or closed it with nothing in it, gives no example
    and one line naming where it is and why."""
    model, tok = smollm2
    traces = tmp_path / "traces.jsonl"
    responses = ["cut by the length limit \\boxed{5}", "</think>\\boxed{5}", "\n\n  \n</think>\\boxed{5}", RESPONSE]
    traces.write_text("".join(json.dumps({"problem": "What is 2+3?", "response": r}) + "\n" for r in responses))
    skipped = []
    assert build_sft_dataset(model, tok, [str(traces)], str(tmp_path / "sft.jsonl"), answer="copy", log=skipped.append) == 1
    assert [line.split(": skipped: ")[0] for line in skipped] == [f"{traces}:1", f"{traces}:2", f"{traces}:3"]
    assert "never closed" in skipped[0] and all("no step" in line for line in skipped[1:])


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
    content = example["completion"]
    assert content == continuation + "So \\boxed{5}."
    assert "The answer is" not in content  # the full trace's answer is not copied


def test_default_regenerator_generates_with_the_scoring_model(smollm2):
    model, tok = smollm2
    regenerator = AnswerRegenerator(model, tok, max_new_tokens=6)
    assert (regenerator.temperature, regenerator.top_p) == (0.6, 0.95)  # official answer request
    example = compress_trace(model, tok, "What is 2+3?", RESPONSE, regenerate=regenerator)
    content = example["completion"]
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
    assert inspect.signature(build_sft_dataset).parameters["max_tokens"].default == 4096  # the paper's filter


# DeepSeek-R1's chat template is DeepSeek-V3's with two changes (deepseek-ai/DeepSeek-R1 and its
# R1-Distill models, tokenizer_config.json; the same text in llama.cpp
# models/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja): an assistant turn keeps only
# what follows its last </think>, and the generation prompt opens thinking.
V3_ASSISTANT_TURN = "{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}"
R1_ASSISTANT_TURN = ("{% set content = message['content'] %}{% if '</think>' in content %}"
                     "{% set content = content.split('</think>')[-1] %}{% endif %}"
                     "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}")
V3_GENERATION_PROMPT = "{{'<｜Assistant｜>'}}{% endif %}"
R1_GENERATION_PROMPT = "{{'<｜Assistant｜><think>\\n'}}{% endif %}"


def r1_distill_tokenizer():
    """The DeepSeek-V3/R1 vocabulary (the cached reference tokenizer) with R1's chat template, adding
    BOS itself as R1-Distill's tokenizer_config says (`add_bos_token: true`)."""
    from transformers import AutoTokenizer

    from cotbench.cot_methods.testbed.reference_tokenizers import fetched, tokenizer_dir

    if not fetched("deepseek_v3"):
        pytest.skip("the deepseek_v3 reference tokenizer is not fetched (scripts/setup.sh)")
    tok = AutoTokenizer.from_pretrained(tokenizer_dir("deepseek_v3"), add_bos_token=True)
    v3 = tok.chat_template
    assert v3.count(V3_ASSISTANT_TURN) == 1 and v3.count(V3_GENERATION_PROMPT) == 1, "the cached V3 template changed"
    tok.chat_template = v3.replace(V3_ASSISTANT_TURN, R1_ASSISTANT_TURN).replace(V3_GENERATION_PROMPT, R1_GENERATION_PROMPT)
    conversation = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "thinking\n</think>\n\nanswer"}]
    assert tok.apply_chat_template(conversation, tokenize=False).endswith("<｜Assistant｜>\n\nanswer<｜end▁of▁sentence｜>")
    return tok


def qwen3_tokenizer():
    from cotbench.cot_methods.testbed.reference_tokenizers import fetched, load

    if not fetched("qwen3"):
        pytest.skip("the qwen3 reference tokenizer is not fetched (scripts/setup.sh)")
    return load("qwen3")


def tiny_model(tokenizer):
    """A one-layer random Llama over the tokenizer's vocabulary: scores steps and stands in for
    the model SFTTrainer fine-tunes (what is trained on does not depend on the weights)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1)
    return LlamaForCausalLM(config).eval()


def trained_by_sft_trainer(tokenizer, rows, tmp_path):
    """(input ids, prompt text, trained-on text) of each row as TRL's SFTTrainer prepares it: the
    trained-on tokens are those whose label is not -100."""
    pytest.importorskip("trl")
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    tokenizer = copy.deepcopy(tokenizer)
    add_skip_tokens(tokenizer)  # as a user fine-tunes: [SKIP] one special token
    args = SFTConfig(output_dir=str(tmp_path / "trainer"), report_to=[], max_length=None, use_cpu=True, bf16=False)
    trainer = SFTTrainer(model=tiny_model(tokenizer), args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    seen = []
    for example in trainer.train_dataset:
        ids, labels = example["input_ids"], example["labels"]
        seen.append((ids, tokenizer.decode([i for i, label in zip(ids, labels) if label == -100]),
                     tokenizer.decode([i for i, label in zip(ids, labels) if label != -100])))
    return seen


@pytest.mark.parametrize("family", ["deepseek_r1_distill", "qwen3"])
def test_sft_trainer_trains_on_the_compressed_thinking(family, tmp_path):
    """The [SKIP]-compressed thinking is what the model learns to write: it survives SFTTrainer and
    the model's chat template (R1's deletes everything before </think> in an assistant turn), after
    a prompt that ends where the model starts thinking, with one BOS."""
    tok = r1_distill_tokenizer() if family == "deepseek_r1_distill" else qwen3_tokenizer()
    # R1's generation prompt opens thinking; Qwen3 writes "<think>" itself, and it must stay first.
    opening = "<think>\n" if family == "qwen3" else ""
    traces = tmp_path / "traces.jsonl"
    traces.write_text(json.dumps({"problem": "What is 2+3?", "response": opening + RESPONSE}) + "\n")
    out = tmp_path / "sft.jsonl"
    assert build_sft_dataset(tiny_model(tok), tok, [str(traces)], str(out), answer="copy") == 1
    (ids, prompt, trained), = trained_by_sft_trainer(tok, [json.loads(out.read_text())], tmp_path)
    thinking, _answer, closed = split_thinking(trained)
    steps = thinking.removeprefix(opening).split("\n\n")
    assert steps.count("[SKIP]") == 4 and len(steps) == 5  # floor(0.8 * 5) steps pruned, one kept from the trace
    assert [s for s in steps if s != "[SKIP]"][0] in RESPONSE
    assert trained.startswith(opening) and trained.endswith("</think>The answer is \\boxed{5}." + tok.eos_token)
    assert prompt == tok.apply_chat_template([{"role": "user", "content": "What is 2+3?"}], tokenize=False, add_generation_prompt=True)
    if tok.bos_token_id is not None:
        assert ids.count(tok.bos_token_id) == 1


def test_build_sft_cli_takes_the_split_the_answer_rule_the_filter_and_the_model_to_fine_tune(smollm2_path, arith_testbed, tmp_path):
    """`cotbench build-sft` exposes the builder's options: the prompt is rendered with the chat
    template of the model to be fine-tuned (here the testbed's, which opens <think>), not the
    scoring model's; a bad --max-tokens is one line."""
    import subprocess
    import sys

    traces = tmp_path / "traces.jsonl"
    traces.write_text(json.dumps({"problem": "What is 2+3?", "response": RESPONSE}) + "\n")
    out = tmp_path / "sft.jsonl"

    def build(*extra):
        return subprocess.run([sys.executable, "-m", "cotbench.cli", "build-sft", str(traces), "--model", smollm2_path, "-o", str(out), *extra],
                              capture_output=True, text=True, timeout=600)

    def example(*extra):
        proc = build("--chat-model", arith_testbed, "--answer", "copy", "--max-tokens", "0", *extra)
        assert proc.returncode == 0, proc.stderr[-2000:]
        [row] = [json.loads(line) for line in out.open()]
        return row

    by_text, by_token = example(), example("--step-split", "token")
    assert "<|user|>" in by_text["prompt"] and "<|im_start|>" not in by_text["prompt"]  # the testbed's template, not SmolLM2's
    assert "[SKIP]" in by_text["completion"] and by_text["completion"].endswith("The answer is \\boxed{5}.")
    # The released code's rule splits only at a token that is exactly "\n\n"; SmolLM2 writes a blank
    # line as two "\n" tokens, so this trace is one step and nothing is skipped.
    assert "[SKIP]" not in by_token["completion"]
    bad = build("--max-tokens", "-5")
    assert bad.returncode == 2 and "--max-tokens=-5: expected a positive number of tokens" in bad.stderr and "Traceback" not in bad.stderr
