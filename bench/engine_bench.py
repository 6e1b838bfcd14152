"""Thinking-loop engine benchmark: throughput vs `model.generate`, probe cost with cache reuse
vs re-prefill, peak memory. Ratios are measured side by side in one run.

    python bench/engine_bench.py                      # SmolLM2-135M on this machine
    python bench/engine_bench.py --random-r1-1.5b     # DeepSeek-R1-Distill-Qwen-1.5B shape, random weights (GPU)

Targets (issue 3): engine decode ≥ 0.9× generate; a cached probe ≥ 5× faster than a
re-prefill at 2k tokens of context.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch


def load(args):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cotbench.cot_methods.backends.model_loading import resolve_pretrained

    if args.random_r1_1_5b:
        from transformers import Qwen2Config, Qwen2ForCausalLM

        # DeepSeek-R1-Distill-Qwen-1.5B's architecture (its config.json), random weights.
        config = Qwen2Config(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                             num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=131072,
                             rope_theta=10000.0, tie_word_embeddings=False)
        dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        model = Qwen2ForCausalLM(config).to(dtype)
        tokenizer = AutoTokenizer.from_pretrained(resolve_pretrained("smollm2-135m", None))
    else:
        path = resolve_pretrained("smollm2-135m", None)
        model = AutoModelForCausalLM.from_pretrained(path, dtype="float32")
        tokenizer = AutoTokenizer.from_pretrained(path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return model.to(device).eval(), tokenizer, device


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def throughput(args) -> dict:
    from cotbench.cot_methods.loop.hf_engine import DecodeSettings, ThinkingEngine
    from cotbench.cot_methods.policy import ThinkingPolicy

    model, tokenizer, device = load(args)
    engine = ThinkingEngine(model, tokenizer)
    prompts = [[int(t) for t in torch.randint(100, 40000, (args.prompt_tokens,))] for _ in range(args.batch)]
    settings = DecodeSettings(max_new_tokens=args.new_tokens)

    def run_engine():
        return engine.run(prompts, settings, ThinkingPolicy())

    def run_generate():
        batch = torch.tensor(prompts, device=device)
        return model.generate(batch, attention_mask=torch.ones_like(batch), max_new_tokens=args.new_tokens,
                              min_new_tokens=args.new_tokens, do_sample=False, pad_token_id=0)

    timings = {"engine": [], "generate": []}
    run_engine(), run_generate()  # warm-up
    for _ in range(args.repeats):
        for name, fn in (("engine", run_engine), ("generate", run_generate)):
            sync(device)
            began = time.perf_counter()
            fn()
            sync(device)
            timings[name].append(time.perf_counter() - began)
    tokens = args.batch * args.new_tokens
    engine_tps = tokens / statistics.median(timings["engine"])
    generate_tps = tokens / statistics.median(timings["generate"])
    return {"batch": args.batch, "new_tokens": args.new_tokens, "engine_tok_s": round(engine_tps, 1),
            "generate_tok_s": round(generate_tps, 1), "ratio_engine_over_generate": round(engine_tps / generate_tps, 3)}


def probe_cost(args) -> list[dict]:
    """A probe of P prefix + k tokens on top of the cache (then cropped) vs re-prefilling."""
    from transformers import DynamicCache

    model, tokenizer, device = load(args)
    prefix = tokenizer.encode("\n**Final Answer**\n\\boxed{", add_special_tokens=False)
    rows = []
    for context_len in args.contexts:
        context = torch.randint(100, 40000, (1, context_len), device=device)
        with torch.inference_mode():
            cache = DynamicCache(config=model.config)
            model(context, past_key_values=cache, use_cache=True)

            def cached_probe():
                out = model(torch.tensor([prefix], device=device), past_key_values=cache, use_cache=True)
                token = out.logits[:, -1:].argmax(-1)
                for _ in range(args.probe_tokens - 1):
                    out = model(token, past_key_values=cache, use_cache=True)
                    token = out.logits[:, -1:].argmax(-1)
                cache.crop(context_len - cache.get_seq_length())  # negative: tokens to drop

            def reprefill_probe():
                fresh = DynamicCache(config=model.config)
                full = torch.cat([context, torch.tensor([prefix], device=device)], dim=1)
                out = model(full, past_key_values=fresh, use_cache=True)
                token = out.logits[:, -1:].argmax(-1)
                for _ in range(args.probe_tokens - 1):
                    out = model(token, past_key_values=fresh, use_cache=True)
                    token = out.logits[:, -1:].argmax(-1)

            times = {}
            for name, fn in (("cached", cached_probe), ("reprefill", reprefill_probe)):
                fn()
                samples = []
                for _ in range(args.repeats):
                    sync(device)
                    began = time.perf_counter()
                    fn()
                    sync(device)
                    samples.append(time.perf_counter() - began)
                times[name] = statistics.median(samples)
        rows.append({"context_tokens": context_len, "cached_probe_ms": round(times["cached"] * 1e3, 1),
                     "reprefill_probe_ms": round(times["reprefill"] * 1e3, 1),
                     "speedup": round(times["reprefill"] / times["cached"], 2)})
    return rows


def peak_memory_child(args) -> None:
    """Run one method once in this (fresh) process and print its peak memory in MiB:
    the GPU allocator's peak, or on CPU the peak RSS growth over the loaded model (sampled
    from /proc every 2 ms by a thread: ru_maxrss already peaked while loading weights)."""
    import os
    import threading

    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * page

    peak, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.002)

    from cotbench.cot_methods.loop.hf_engine import DecodeSettings, ThinkingEngine
    from cotbench.cot_methods.policy import ThinkingPolicy

    model, tokenizer, device = load(args)
    prompts = [[int(t) for t in torch.randint(100, 40000, (args.prompt_tokens,))] for _ in range(args.batch)]
    baseline = rss()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        if args._child == "engine":
            ThinkingEngine(model, tokenizer).run(prompts, DecodeSettings(max_new_tokens=args.new_tokens), ThinkingPolicy())
        else:
            batch = torch.tensor(prompts, device=device)
            model.generate(batch, attention_mask=torch.ones_like(batch), max_new_tokens=args.new_tokens,
                           min_new_tokens=args.new_tokens, do_sample=False, pad_token_id=0)
    stop.set()
    sampler.join()
    if device == "cuda":
        print(torch.cuda.max_memory_allocated() / 2**20)
    else:
        print((peak[0] - baseline) / 2**20)


def peak_memory(kind: str) -> float:
    argv = [a for a in sys.argv[1:]]
    out = subprocess.run([sys.executable, __file__, *argv, "--_child", kind], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--contexts", type=int, nargs="+", default=[512, 2048, 4096])
    parser.add_argument("--probe-tokens", type=int, default=4)
    parser.add_argument("--random-r1-1.5b", dest="random_r1_1_5b", action="store_true")
    parser.add_argument("--_child", default=None)
    args = parser.parse_args()
    if args._child:
        return peak_memory_child(args)
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {device}; model: {'R1-Distill-Qwen-1.5B shape, random' if args.random_r1_1_5b else 'SmolLM2-135M'}")
    result = throughput(args)
    print(f"decode throughput, batch {result['batch']} x {result['new_tokens']} new tokens: engine "
          f"{result['engine_tok_s']} tok/s, model.generate {result['generate_tok_s']} tok/s, "
          f"ratio {result['ratio_engine_over_generate']} (target >= 0.9)")
    for row in probe_cost(args):
        print(f"probe at {row['context_tokens']} context tokens: cached {row['cached_probe_ms']} ms, "
              f"re-prefill {row['reprefill_probe_ms']} ms, speedup {row['speedup']}x (target >= 5x at 2048)")
    memory = {kind: round(peak_memory(kind), 1) for kind in ("engine", "generate")}
    unit = "GPU peak allocated" if torch.cuda.is_available() else "CPU peak RSS growth"
    print(f"peak memory ({unit}), same batch: engine {memory['engine']} MiB, generate {memory['generate']} MiB, "
          f"ratio {round(memory['engine'] / max(memory['generate'], 1e-9), 3)}")


if __name__ == "__main__":
    main()
