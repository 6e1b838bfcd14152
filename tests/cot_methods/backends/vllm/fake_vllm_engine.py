"""A stand-in for `vllm.LLM` in an engine process (`data_parallel.py` starts one per rank): it
answers deterministically from the prompt and the request's settings, like replicas of one model,
and reports which process answered and whether its prefix cache already held the prompt's row."""

import os
from types import SimpleNamespace


class FakeLLM:
    def __init__(self, model: str):
        self.model, self.seen = model, []

    def generate(self, prompts, params, use_tqdm=False):
        outputs = []
        for prompt, settings in zip(prompts, params):
            ids = tuple(prompt["prompt_token_ids"] if isinstance(prompt, dict) else map(ord, prompt))
            # A prefix cache serves a prompt that extends one this engine has seen (its row's earlier prompt).
            cached = any(ids[: len(earlier)] == earlier for earlier in self.seen)
            self.seen.append(ids)
            answer = [(sum(ids) * 31 + settings["seed"] + k) % 1000 for k in range(settings["max_tokens"])]
            outputs.append(SimpleNamespace(outputs=[SimpleNamespace(token_ids=answer, prefix_cached=cached, pid=os.getpid())]))
        return outputs


def start_fake_engine(model: str, **load_kwargs) -> FakeLLM:
    if model == "missing":
        raise ValueError(f"no model at {model!r}\nsecond line of the trace")
    return FakeLLM(model)
