"""A handful of GRPO steps with TRL on the embedded SmolLM2-135M, on the CPU, rewarded by the
step-entropy composite reward and ENTRA's reward: proof that the recipes are wired correctly,
not a training run (the model is far too small to learn [SKIP] in two steps).

    python examples/grpo_smollm2.py --steps 2 --output /tmp/grpo-smollm2
"""

from __future__ import annotations

import argparse


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--output", default="runs/grpo-smollm2")
    parser.add_argument("--completion-tokens", type=int, default=24)
    args = parser.parse_args(argv)

    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from cotbench.cot_methods.backends.model_loading import resolve_pretrained
    from cotbench.cot_methods.training.rewards import EntraReward, make_step_entropy_reward

    path = resolve_pretrained("smollm2-135m", None)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype="float32")
    problems = [("What is 2 + 3?", "5"), ("What is 7 * 6?", "42"), ("What is 10 - 4?", "6"), ("What is 9 + 9?", "18")]
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": q + " Put the answer in \\boxed{}."}], "answer": a} for q, a in problems])
    config = GRPOConfig(
        output_dir=args.output, max_steps=args.steps, per_device_train_batch_size=2, num_generations=2,
        max_completion_length=args.completion_tokens, learning_rate=1e-6, logging_steps=1, report_to=[],
        use_cpu=True, save_strategy="no", temperature=0.6, bf16=False,
    )
    trainer = GRPOTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
        reward_funcs=[make_step_entropy_reward("code"), EntraReward(model, tokenizer)],
    )
    result = trainer.train()
    history = [h for h in trainer.state.log_history if "reward" in h]
    print({"steps": trainer.state.global_step, "train_loss": result.training_loss, "rewards": [h["reward"] for h in history]})
    return {"steps": trainer.state.global_step, "history": history}


if __name__ == "__main__":
    main()
