"""backend=hf (the default): the model in this process. lm-eval's `HFLM`, built whole, loads the
model and tokenizer (devices, dtype, accelerate processes, loglikelihood for tasks that score
rather than generate); the HF engine (`loop/hf_engine.py`) decodes.

A runner is what `CotbenchLM` (`base.py`) holds to reach a model: it generates a batch through a
policy and answers what lm-eval asks of a model besides generation. `segment.py` is the other one.
"""

from __future__ import annotations

import inspect

from lm_eval.models.huggingface import HFLM

from ..loop.hf_engine import ThinkingEngine
from ..loop.row import DecodeSettings, RowResult
from ..policy import ThinkingPolicy

# from_pretrained options users commonly pass through model_args besides HFLM's own.
PASS_THROUGH = {"attn_implementation", "low_cpu_mem_usage", "device_map", "torch_dtype"}


class HFRunner:
    """The model loaded by lm-eval's `HFLM`, decoded by `ThinkingEngine`."""

    # HFLM's arguments, less those cotbench takes under the same name on every backend (`backend`,
    # the chat template's switches: `base.py` applies them itself, on every template path).
    ARGUMENTS = (set(inspect.signature(HFLM.__init__).parameters) - {"self", "kwargs", "backend", "enable_thinking", "chat_template_args"}) | PASS_THROUGH
    OTHER_ARGUMENTS = "or any argument of lm-eval's hf model"

    def __init__(self, backend: str, pretrained: str, local_model: str, kwargs: dict, method: str, seed: int):
        """The arguments every runner takes (`base.py` builds each the same way); HFLM takes the
        resolved model folder and every model_arg left once cotbench's own are taken."""
        kwargs.setdefault("device", None)
        self.lm = HFLM(pretrained=local_model, **kwargs)
        self.tokenizer, self.model = self.lm.tokenizer, self.lm.model
        self.engine = ThinkingEngine(self.model, self.tokenizer)
        self.rank, self.world_size, self.device, self.batch_size = self.lm.rank, self.lm.world_size, self.lm.device, self.lm.batch_size

    def encode_prompt(self, text: str) -> list[int]:
        """The prompt as the engine takes it: token ids, encoded as lm-eval encodes them (BOS rules)."""
        return self.lm.tok_encode(text)

    def run(self, prompts: list[list[int]], settings: DecodeSettings, policy: ThinkingPolicy, seeds: list[int]) -> list[tuple[RowResult, str]]:
        """(accounting, generated text) per prompt."""
        results = self.engine.run(prompts, settings, policy, row_seeds=seeds)
        return [(result, self.engine.decode(result.token_ids)) for result in results]

    def describe(self) -> dict:
        return {"name": "hf"}

    def model_info(self) -> dict:
        return self.lm.get_model_info()

    # -- lm-eval's other duties: HFLM's own -------------------------------------------------
    def loglikelihood(self, requests, disable_tqdm: bool = False):
        return self.lm.loglikelihood(requests, disable_tqdm=disable_tqdm)

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        return self.lm.loglikelihood_rolling(requests, disable_tqdm=disable_tqdm)

    def all_gather(self, tensor):
        return self.lm.all_gather(tensor)

    def gather_object(self, obj, dst=0):
        return self.lm.gather_object(obj, dst=dst)

    def barrier(self) -> None:
        self.lm.barrier()

    def set_cache_hook(self, cache_hook) -> None:
        self.lm.set_cache_hook(cache_hook)
