"""vLLM row of the benchmark: the segment loop (vanilla and EntroCut) against a direct
`LLM.generate` of the same prompts, side by side in one run on one engine.

    .venv-vllm/bin/python bench/vllm_bench.py                 # SmolLM2-135M, vLLM's CPU build
    .venv-vllm/bin/python bench/vllm_bench.py --model PATH    # any local model (GPU build on a GPU)

What is compared (issue 15): the same chat-templated GSM8K prompts, greedy, the same token
budget. `direct` is one `LLM.generate` call; `vanilla` is the segment loop with the vanilla
policy (one request per row, token-id prompts); the target is vanilla ≥ 0.9× direct in
generated tokens per second. `entrocut` is the segment loop with EntroCut at τ = 0 (it never
cuts, so it generates the same tokens as vanilla) and common words as triggers, so every
trigger ends a segment and starts a probe: its extra wall time over vanilla divided by its
probes is the cost of one probe (the round trip of the split segment plus the probe request,
whose prompt is served from vLLM's prefix cache). Medians of repeats, alternated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path


def prompts_from(data_dir: Path, count: int, tokenizer) -> list[str]:
    with (data_dir / "gsm8k" / "test.jsonl").open() as handle:
        problems = [json.loads(line)["problem"] for _, line in zip(range(count), handle)]
    return [tokenizer.apply_chat_template([{"role": "user", "content": f"{p}\nReason step by step."}], tokenize=False,
                                          add_generation_prompt=True) for p in problems]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="local model folder (default: the embedded SmolLM2-135M)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--triggers", default="The|So|Then|Now", help="EntroCut trigger words (|-separated)")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--data-dir", default=os.environ.get("COTBENCH_DATA_DIR", "/work/shared/data"))
    args = parser.parse_args()

    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from cotbench.cot_methods.backends.model_loading import resolve_pretrained
    from cotbench.cot_methods.backends.vllm.backend import VLLMBackend, load_vllm
    from cotbench.cot_methods.loop.hf_engine import DecodeSettings
    from cotbench.cot_methods.loop.segment_loop import SegmentThinkingLoop
    from cotbench.cot_methods.methods.entrocut import EntroCutArgs, EntroCutPolicy
    from cotbench.cot_methods.policy import ThinkingPolicy
    from cotbench.cot_methods.signals.vocabulary import trigger_token_ids

    model = args.model or resolve_pretrained("smollm2-135m", None)
    began = time.perf_counter()
    llm = load_vllm(model, None, args.dtype, 1, None, 2048, 0, False)
    started = time.perf_counter() - began
    tokenizer = llm.get_tokenizer()
    prompts = prompts_from(Path(args.data_dir), args.batch, tokenizer)
    eos = frozenset({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else ())
    settings = DecodeSettings(max_new_tokens=args.new_tokens, eos_token_ids=eos)
    loop = SegmentThinkingLoop(VLLMBackend(llm), tokenizer)
    triggers = tuple(args.triggers.split("|"))
    entro_args = EntroCutArgs(threshold=0.0, triggers=triggers, min_thinking_tokens=0)
    entrocut = EntroCutPolicy(entro_args, trigger_token_ids(tokenizer, triggers, "bench"),
                              tokenizer.encode("\n**Final Answer**\n\\boxed{", add_special_tokens=False), 0.0)
    seeds = list(range(len(prompts)))

    def direct():
        ids = [TokensPrompt(prompt_token_ids=tokenizer.encode(p, add_special_tokens=False)) for p in prompts]
        outputs = llm.generate(ids, SamplingParams(max_tokens=args.new_tokens, temperature=0.0), use_tqdm=False)
        return [o.outputs[0].text for o in outputs], sum(len(o.outputs[0].token_ids) for o in outputs), 0

    def through_loop(policy):
        def run():
            pairs = loop.run(prompts, settings, policy, seeds)
            return [text for _, text in pairs], sum(len(r.kinds) for r, _ in pairs), sum(len(r.probes) for r, _ in pairs)
        return run

    runs = {"direct": direct, "vanilla": through_loop(ThinkingPolicy()), "entrocut": through_loop(entrocut)}
    outputs = {name: fn() for name, fn in runs.items()}  # warm-up (and the outputs compared below)
    timings = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - t)
    wall = {name: statistics.median(times) for name, times in timings.items()}
    tps = {name: outputs[name][1] / wall[name] for name in runs}
    probes = outputs["entrocut"][2]
    same = outputs["vanilla"][0] == outputs["direct"][0]
    print(f"model: {model}; engine start {started:.0f} s; batch {args.batch} x up to {args.new_tokens} new tokens, greedy; "
          f"medians of {args.repeats}")
    for name in runs:
        print(f"{name}: {outputs[name][1]} tokens in {wall[name]:.2f} s = {tps[name]:.1f} tok/s")
    print(f"vanilla through the segment loop / direct generate: {tps['vanilla'] / tps['direct']:.3f} (target >= 0.9); "
          f"same texts as direct: {same}")
    if probes:
        print(f"entrocut: {probes} probes, {outputs['entrocut'][1]} tokens (vanilla {outputs['vanilla'][1]}); "
              f"cost per probe {(wall['entrocut'] - wall['vanilla']) / probes * 1e3:.1f} ms "
              f"(entrocut wall / vanilla wall {wall['entrocut'] / wall['vanilla']:.3f})")
    else:
        print("entrocut: no probes fired (no trigger word generated); pass other --triggers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
