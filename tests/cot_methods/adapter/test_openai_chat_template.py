"""`enable_thinking` / `chat_template_args` on the segment backends (openai, vllm), as on hf.

Qwen3's model card: with `enable_thinking=False` the chat template ends the generation prompt
with an empty thinking block, `<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n`, so the model
answers without thinking; by default the prompt ends at `<|im_start|>assistant\\n`. Checked with
Qwen3's real tokenizer on both lm-eval's path (`apply_chat_template`) and ours (`_prompt_text`),
and the setting is recorded with every generation. No server is contacted and vLLM is not started.
"""

import json

import pytest

from cotbench.cot_methods.adapter import segment as segment_lm
from cotbench.cot_methods.adapter.segment import segment_adapter
from cotbench.cot_methods.backends.vllm import backend as vllm_backend
from cotbench.cot_methods.methods.vanilla import VanillaLM
from cotbench.cot_methods.testbed.reference_tokenizers import tokenizer_dir
from cotbench.errors import CotbenchError

THINKING_OFF = "<|im_start|>assistant\n<think>\n\n</think>\n\n"
THINKING_ON = "<|im_start|>assistant\n"
CHAT = [{"role": "user", "content": "What is 2 + 3?"}]


def adapter(backend: str, **model_args):
    return segment_adapter(VanillaLM)(backend=backend, pretrained=str(tokenizer_dir("qwen3")), base_url="http://127.0.0.1:9/v1", **model_args)


@pytest.fixture
def fake_vllm(monkeypatch):
    """backend=vllm without an engine: the chat template is the adapter's, not vLLM's."""
    monkeypatch.setattr(vllm_backend, "load_vllm", lambda *args, **kwargs: None)
    monkeypatch.setattr(vllm_backend, "VLLMBackend", lambda llm: object())


@pytest.mark.parametrize("backend", ["openai", "vllm"])
def test_enable_thinking_false_renders_qwen3s_empty_thinking_block(backend, reference_tokenizers, fake_vllm):
    off = adapter(backend, enable_thinking=False)
    on = adapter(backend)
    assert off.apply_chat_template(CHAT).endswith(THINKING_OFF)
    rendered_on = on.apply_chat_template(CHAT)
    assert rendered_on.endswith(THINKING_ON) and "</think>" not in rendered_on
    # Our own template path (lm-eval did not apply one) sees the same switch.
    assert adapter(backend, enable_thinking=False)._prompt_text("What is 2 + 3?").endswith(THINKING_OFF)
    assert adapter(backend)._prompt_text("What is 2 + 3?").endswith(THINKING_ON)
    assert off.describe()["backend"]["chat_template_args"] == {"enable_thinking": False}


def test_chat_template_args_as_a_dict_or_json_and_enable_thinking_wins(reference_tokenizers):
    assert adapter("openai", chat_template_args={"enable_thinking": False}).apply_chat_template(CHAT).endswith(THINKING_OFF)
    assert adapter("openai", chat_template_args=json.dumps({"enable_thinking": False})).apply_chat_template(CHAT).endswith(THINKING_OFF)
    both = adapter("openai", chat_template_args={"enable_thinking": False}, enable_thinking=True)
    assert both.apply_chat_template(CHAT).endswith(THINKING_ON)


def test_bad_chat_template_args_are_one_line():
    with pytest.raises(CotbenchError, match=r"chat_template_args='\[1\]' is invalid \(expected a JSON object"):
        segment_lm.SegmentArgs(chat_template_args="[1]").validate("cotbench-vanilla")
    with pytest.raises(CotbenchError, match="chat_template_args='enable_thinking' is invalid"):
        segment_lm.SegmentArgs(chat_template_args="enable_thinking").validate("cotbench-vanilla")
