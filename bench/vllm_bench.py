"""vLLM row of the benchmark (issues 15 and 29): the segment loop against a direct `LLM.generate`,
and EntroCut against vanilla in wall time, side by side in one run on one engine; then the
same through backend=openai against a loopback `vllm serve` of the same model.

    .venv-vllm/bin/python bench/vllm_bench.py                 # SmolLM2-135M, vLLM's CPU build
    .venv-vllm/bin/python bench/vllm_bench.py --model PATH    # any local model (GPU build on a GPU)
    ... --no-server                                           # the offline engine only

What is compared: the same chat-templated GSM8K prompts, greedy, the same token budget.
- `direct`: one `LLM.generate` call. `vanilla`: the segment loop with the vanilla policy (one
  request per row). Target (issue 29): vanilla ≥ 0.95× direct in generated tokens per second.
- `entrocut τ=0`: EntroCut that never cuts, with common words as triggers, so it generates
  vanilla's tokens plus a probe at every trigger. Target: wall ≤ 1.15× vanilla's. Its floor: a
  probe of g tokens served from the prefix cache delays its row by about g + 2 engine steps (the
  probe's uncached prefix, g decodes, the continuation's re-admission), so the ideal ratio is
  the longest row's steps with its probes over the longest row's steps without.
- `entrocut τ=default`: EntroCut as a user runs it (τ 0.15, the fallback for an uncalibrated
  model): the wall-time reduction beside the token reduction, because users pay for time.
- Prefix-cache hit rate per probe: the share of a probe's prompt vLLM served from its cache
  (`num_cached_tokens`, in each probe's record as `prefix_cache`).
Medians of repeats, alternated, after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path


def prompts_from(data_dir: Path, count: int, tokenizer) -> list[str]:
    with (data_dir / "gsm8k" / "test.jsonl").open() as handle:
        problems = [json.loads(line)["problem"] for _, line in zip(range(count), handle)]
    return [tokenizer.apply_chat_template([{"role": "user", "content": f"{p}\nReason step by step."}], tokenize=False,
                                          add_generation_prompt=True) for p in problems]


def floor_ratio(vanilla_rows, entrocut_rows) -> float:
    """The ideal wall ratio: the longest row in engine steps with each probe's g + 2 steps added,
    over the longest row without (each step time taken as equal, as in a batch that is not full)."""
    plain = max(len(result.kinds) for result, _ in vanilla_rows)
    probed = max(len(result.kinds) + sum(len(p["entropies"]) + 2 for p in result.probes) for result, _ in entrocut_rows)
    return probed / plain


def cache_hits(rows) -> list[float]:
    return [p["prefix_cache"]["cached_tokens"] / p["prefix_cache"]["prompt_tokens"]
            for result, _ in rows for p in result.probes if p.get("prefix_cache")]


def measure(runs: dict, repeats: int) -> tuple[dict, dict]:
    """(outputs of the warm-up, median wall seconds) per run, the runs alternated."""
    outputs = {name: fn() for name, fn in runs.items()}
    timings = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            began = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - began)
    return outputs, {name: statistics.median(times) for name, times in timings.items()}


def report(title: str, outputs: dict, wall: dict, baseline: str = "vanilla") -> list[str]:
    """Table rows: tokens, wall, tok/s and the ratios to the baseline, probes and cache hits."""
    lines = [f"\n### {title}\n", "| run | tokens | wall s | tok/s | wall / vanilla | tokens / vanilla | probes | floor | prefix-cache hit per probe |",
             "|---|---|---|---|---|---|---|---|---|"]
    base_tokens = tokens(outputs[baseline])
    for name, rows in outputs.items():
        probes = 0 if isinstance(rows, tuple) else sum(len(result.probes) for result, _ in rows)
        hits = cache_hits(rows) if probes else []
        hit = f"median {statistics.median(hits):.3f}, min {min(hits):.3f} ({len(hits)} probes)" if hits else "–"
        floor = f"{floor_ratio(outputs[baseline], rows):.3f}" if probes else "–"
        lines.append(f"| {name} | {tokens(rows)} | {wall[name]:.2f} | {tokens(rows) / wall[name]:.1f} | {wall[name] / wall[baseline]:.3f} | "
                     f"{tokens(rows) / base_tokens:.3f} | {probes} | {floor} | {hit} |")
    return lines


def tokens(rows) -> int:
    """Generated tokens of a loop's rows, or of direct generate's (texts, tokens)."""
    return rows[1] if isinstance(rows, tuple) else sum(len(result.kinds) for result, _ in rows)


def start_server(python: str, model: str, dtype: str, enforce_eager: bool) -> tuple[subprocess.Popen, str]:
    """`vllm serve` on loopback (prefix caching on, cached tokens reported), ready or one line."""
    from cotbench.cot_methods.backends.openai import wait_until_serving

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--served-model-name", "bench", "--host", "127.0.0.1",
               "--port", str(port), "--dtype", dtype, "--max-model-len", "2048", "--enable-prefix-caching", "--enable-prompt-tokens-details",
               "--max-logprobs", "20", *(["--enforce-eager"] if enforce_eager else [])]
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"vllm-bench-server-{port}.log", "w")
    # vLLM's CPU build reserves gpu_memory_utilization of the node's memory unless told the KV cache's size.
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "4")}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    failure = wait_until_serving(base, process, 1200)
    if failure:
        sys.exit(f"vllm serve: {failure}; see {log.name}")
    return process, base


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="local model folder (default: the embedded SmolLM2-135M)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--triggers", default="The|So|Then|Now", help="EntroCut trigger words (|-separated)")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--enforce-eager", action="store_true", help="skip torch.compile (minutes less start-up on CPU)")
    parser.add_argument("--no-server", action="store_true", help="skip the backend=openai rows")
    parser.add_argument("--data-dir", default=os.environ.get("COTBENCH_DATA_DIR", "/work/shared/data"))
    args = parser.parse_args()

    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from cotbench.cot_methods.backends.model_loading import resolve_pretrained
    from cotbench.cot_methods.backends.openai import OpenAICompletionsBackend
    from cotbench.cot_methods.backends.vllm.backend import VLLMBackend, load_vllm
    from cotbench.cot_methods.loop.row import DecodeSettings
    from cotbench.cot_methods.loop.segment_loop import SegmentThinkingLoop
    from cotbench.cot_methods.methods.entrocut import FALLBACK_THRESHOLD, EntroCutArgs, EntroCutPolicy
    from cotbench.cot_methods.policy import ThinkingPolicy
    from cotbench.cot_methods.signals.vocabulary import trigger_token_ids

    model = args.model or resolve_pretrained("smollm2-135m", None)
    began = time.perf_counter()
    llm = load_vllm(model, None, args.dtype, 1, None, 2048, 0, False, enforce_eager=args.enforce_eager)
    started = time.perf_counter() - began
    tokenizer = llm.get_tokenizer()
    prompts = prompts_from(Path(args.data_dir), args.batch, tokenizer)
    eos = frozenset({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else ())
    settings = DecodeSettings(max_new_tokens=args.new_tokens, eos_token_ids=eos)
    triggers = tuple(args.triggers.split("|"))
    probe = tokenizer.encode("\n**Final Answer**\n\\boxed{", add_special_tokens=False)

    def entrocut(threshold: float) -> EntroCutPolicy:
        return EntroCutPolicy(EntroCutArgs(threshold=threshold, triggers=triggers, min_thinking_tokens=0),
                              trigger_token_ids(tokenizer, triggers, "bench"), probe, threshold)

    policies = {"vanilla": ThinkingPolicy(), "entrocut τ=0": entrocut(0.0), f"entrocut τ={FALLBACK_THRESHOLD}": entrocut(FALLBACK_THRESHOLD)}
    seeds = list(range(len(prompts)))

    def through(loop, policy):
        return lambda: loop.run(prompts, settings, policy, seeds)

    def direct():
        ids = [TokensPrompt(prompt_token_ids=tokenizer.encode(p, add_special_tokens=False)) for p in prompts]
        outputs = llm.generate(ids, SamplingParams(max_tokens=args.new_tokens, temperature=0.0), use_tqdm=False)
        return [o.outputs[0].text for o in outputs], sum(len(o.outputs[0].token_ids) for o in outputs)

    offline = SegmentThinkingLoop(VLLMBackend(llm), tokenizer)
    outputs, wall = measure({"direct": direct, **{name: through(offline, p) for name, p in policies.items()}}, args.repeats)
    same = [text for _, text in outputs["vanilla"]] == outputs["direct"][0]
    lines = [f"model: {model}; vLLM engine start {started:.0f} s{' (enforce_eager)' if args.enforce_eager else ''}; batch {args.batch} x up to "
             f"{args.new_tokens} new tokens, greedy; triggers {'|'.join(triggers)}; medians of {args.repeats} alternated repeats"]
    lines += report("backend=vllm (offline engine, rows streamed into it)", outputs, wall)
    lines.append(f"\nvanilla through the segment loop / direct generate, tok/s: "
                 f"{tokens(outputs['vanilla']) / wall['vanilla'] / (outputs['direct'][1] / wall['direct']):.3f} (target >= 0.95); "
                 f"same texts as direct: {same}")
    print("\n".join(lines), flush=True)
    lines = []
    if not args.no_server:
        llm.llm_engine.engine_core.shutdown()  # one engine at a time on the host
        process, base = start_server(sys.executable, model, args.dtype, args.enforce_eager)
        try:
            backend = OpenAICompletionsBackend(base, "bench", concurrency=args.batch, tokenizer=tokenizer)
            served = SegmentThinkingLoop(backend, tokenizer)
            outputs, wall = measure({name: through(served, p) for name, p in policies.items()}, args.repeats)
            lines += report(f"backend=openai (loopback vllm serve, concurrency {args.batch})", outputs, wall)
        finally:
            process.terminate()
            process.wait(timeout=60)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
