"""ENTRA's overhead: wall time per GRPO step with the BIE redundancy reward against a plain
correctness reward, side by side in one run, on the testbed model (issue 25; the seed reports
BIE's extra cost as small next to rollouts).

    python bench/grpo_reward_bench.py [--steps 10]

Both runs start from the same model with the same seed, data and settings (entra-grpo's), so their
first step's rollouts are identical; later steps diverge with the updates, so the reward's own
time (timed around each call) is reported beside the whole step's. CPU, 2 threads; synthetic
testbed: the ratio on a 7B model with real attention is not this one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


class Timed:
    """A reward that records how long each call took (the trainer calls it once per step)."""

    def __init__(self, reward):
        self.reward, self.seconds = reward, []
        self.__name__ = reward.__name__

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.reward(*args, **kwargs)
        finally:
            self.seconds.append(time.perf_counter() - started)


def run(name: str, steps: int, seed: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cotbench.cot_methods.backends.model_loading import resolve_pretrained
    from cotbench.cot_methods.training.recipes import ENTRA_GRPO, THREADS, grpo_trainer
    from cotbench.cot_methods.training.rewards import CorrectnessReward, EntraReward

    torch.manual_seed(seed)
    torch.set_num_threads(THREADS)
    folder = resolve_pretrained("arith-testbed", None)
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder, dtype="float32"), AutoTokenizer.from_pretrained(folder)
    reward = Timed(EntraReward(model, tokenizer) if name == "bie" else CorrectnessReward())
    with tempfile.TemporaryDirectory() as out:
        trainer, _ = grpo_trainer(model, tokenizer, reward, ENTRA_GRPO, steps, seed, Path(out))
        started = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - started
    lengths = [entry["completions/mean_length"] for entry in trainer.state.log_history if "completions/mean_length" in entry]
    return {"name": name, "step_s": wall / steps, "reward_s": statistics.fmean(reward.seconds), "mean_length": statistics.fmean(lengths)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    plain, bie = run("correctness", args.steps, args.seed), run("bie", args.steps, args.seed)
    for result in (plain, bie):
        print(f"{result['name']:>12}: {result['step_s']:.2f} s per GRPO step, reward {result['reward_s']:.3f} s per step, "
              f"mean completion {result['mean_length']:.0f} tokens")
    print(f"BIE reward / correctness reward: {bie['step_s'] / plain['step_s']:.2f}x wall time per step; "
          f"the BIE reward itself is {bie['reward_s'] / bie['step_s']:.0%} of a step ({args.steps} steps each, 32 completions per step)")


if __name__ == "__main__":
    main()
