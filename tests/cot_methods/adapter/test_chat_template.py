"""`enable_thinking` / `chat_template_args` reach the model on every backend and both template paths:
lm-eval's (`--apply_chat_template`) and ours (`chat_template=true`, when lm-eval applied none).

Qwen3's model card: with `enable_thinking=False` the chat template ends the generation prompt with
an empty thinking block, `<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n`, so the model answers
without thinking; by default the prompt ends at `<|im_start|>assistant\\n`. Checked with Qwen3's
real tokenizer on what the model is actually fed: on hf the ids of the first forward of a one-layer
random model (only the prompt matters); on vllm and openai the prompt their segment backend is
asked to continue (a fake that answers the segment contract, `loop/segments.py`: no engine is
started and no server contacted).
"""

import json
from types import SimpleNamespace

import pytest

from cotbench.cot_methods.adapter.args import ChatTemplateArgs
from cotbench.cot_methods.backends import openai as openai_backend
from cotbench.cot_methods.backends.vllm import backend as vllm_backend
from cotbench.cot_methods.loop.segments import Segment
from cotbench.cot_methods.methods.vanilla import VanillaLM
from cotbench.cot_methods.testbed.reference_tokenizers import tokenizer_dir
from cotbench.errors import CotbenchError

THINKING_OFF = "<|im_start|>assistant\n<think>\n\n</think>\n\n"
THINKING_ON = "<|im_start|>assistant\n"
QUESTION = "What is 2 + 3?"
CHAT = [{"role": "user", "content": QUESTION}]
BACKENDS = ["hf", "vllm", "openai"]


@pytest.fixture(scope="module")
def qwen3_model(tmp_path_factory, reference_tokenizers):
    """A folder HFLM loads: a one-layer random Llama with Qwen3's real tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("qwen3-tiny")
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir("qwen3")))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


class RecordingBackend:
    """A segment backend that keeps each prompt it is asked to continue and generates nothing."""

    def __init__(self):
        self.prompts = []

    def complete(self, requests):
        self.prompts += [request.prompt for request in requests]
        return [Segment("", 1, "length") for _ in requests]


@pytest.fixture
def fed_prompt(qwen3_model, monkeypatch):
    """(adapter, the text the model was fed for one request that lm-eval did not template)."""
    recorder = RecordingBackend()
    monkeypatch.setattr(vllm_backend, "load_vllm", lambda *args, **kwargs: None)
    monkeypatch.setattr(vllm_backend, "VLLMBackend", lambda llm: recorder)
    monkeypatch.setattr(openai_backend, "OpenAICompletionsBackend", lambda *args, **kwargs: recorder)

    def run(backend: str, **model_args):
        where = {"base_url": "http://127.0.0.1:9/v1"} if backend == "openai" else {}
        lm = VanillaLM(backend=backend, pretrained=qwen3_model, device="cpu", batch_size=1, **where, **model_args)
        fed = []
        if backend == "hf":  # the prompt is the first forward's input
            lm.model.register_forward_pre_hook(lambda module, args, kwargs: fed.append(kwargs["input_ids"][0].tolist()), with_kwargs=True)
        lm.generate_until([SimpleNamespace(args=(QUESTION, {"max_gen_toks": 1}))], disable_tqdm=True)
        return lm, lm.tokenizer.decode(fed[0]) if backend == "hf" else recorder.prompts[-1]

    return run


@pytest.mark.parametrize("backend", BACKENDS)
def test_enable_thinking_false_reaches_the_model_on_both_template_paths(backend, fed_prompt):
    off, fed_off = fed_prompt(backend, enable_thinking=False)
    on, fed_on = fed_prompt(backend)
    assert fed_off.endswith(THINKING_OFF)  # ours
    assert fed_on.endswith(THINKING_ON) and "</think>" not in fed_on
    assert off.apply_chat_template(CHAT).endswith(THINKING_OFF)  # lm-eval's
    assert on.apply_chat_template(CHAT).endswith(THINKING_ON)
    assert off.describe()["chat_template_args"] == {"enable_thinking": False}


@pytest.mark.parametrize("backend", BACKENDS)
def test_chat_template_args_as_a_dict_or_json_and_enable_thinking_wins(backend, fed_prompt):
    assert fed_prompt(backend, chat_template_args={"enable_thinking": False})[1].endswith(THINKING_OFF)
    assert fed_prompt(backend, chat_template_args=json.dumps({"enable_thinking": False}))[1].endswith(THINKING_OFF)
    assert fed_prompt(backend, chat_template_args={"enable_thinking": False}, enable_thinking=True)[1].endswith(THINKING_ON)


def test_bad_chat_template_args_are_one_line():
    with pytest.raises(CotbenchError, match=r"chat_template_args='\[1\]' is invalid \(expected a JSON object"):
        ChatTemplateArgs(chat_template_args="[1]").validate("cotbench-vanilla")
    with pytest.raises(CotbenchError, match="chat_template_args='enable_thinking' is invalid"):
        ChatTemplateArgs(chat_template_args="enable_thinking").validate("cotbench-vanilla")
