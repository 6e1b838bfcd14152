"""The training recipes of the two trained seeds, end to end on the testbed model:
`cotbench testbed train --recipe skip-sft | skip-grpo | entra-grpo`.

- skip-sft (step entropy, arXiv 2508.03346 §5.1, the official pipeline): the base model samples
  one trace per training problem (T 0.6 / top-p 0.95), `build_sft_dataset` compresses each
  (the ⌊κN⌋ lowest-entropy steps → [SKIP], κ = 0.8) and regenerates its answer, TRL's
  `SFTTrainer` fine-tunes the base model on the pairs.
- skip-grpo (§5.2, stage2_rl_training/grpo_train.py): TRL's `GRPOTrainer` from a skip-sft
  checkpoint with the four-part step-entropy reward (`StepEntropyReward`, "code" or "paper").
- entra-grpo (ENTRA, arXiv 2601.07123): `GRPOTrainer` from the base model with correctness +
  the normalised entropy of the low-importance tokens (`EntraReward`, BIE with λ, the top τ
  by importance left out; τ = 20 % the seed's, 10 % and 30 % its ablation), and the seed's
  KL penalty.

Problems come from the training split (`arith_split.py`), never the test problems. Each recipe
writes a checkpoint folder (`checkpoint.py`: weights, tokenizer, `train.json` with the recipe,
base, data, steps, seed, wall time, library versions and sha256) loadable as
`pretrained=<folder>`, and the data it made beside it (`<folder>.data/`).

Constants the papers give are theirs; the rest is scaled to a 0.9 M-parameter model trained
from scratch (the papers fine-tune 7B models with LoRA), and each says so. `size="mini"` is CI's
miniature: the same recipe with less data and fewer steps. Synthetic: a checkpoint trained here
is evidence about the recipe's plumbing and about the testbed, not about real reasoning models.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cotbench.errors import CotbenchError
from cotbench.harness_tasks.grading import grade_math

from ..signals.bie import DEFAULT_LAMBDA, DEFAULT_TOP_FRACTION
from ..signals.steps import DEFAULT_SKIP_RATIO
from .arith_split import prompt_text, training_problems
from .checkpoint import SUMMARY_FILE, checkpoint_sha256, save_checkpoint
from .rewards import SKIP_PENALTIES, EntraReward, StepEntropyReward
from .rollouts import sample_traces, write_jsonl

RECIPES = ("skip-sft", "skip-grpo", "entra-grpo")
TRAINING_LEVELS = ("easy", "medium", "hard")  # every level the harness scores
THREADS = 2  # CI's cores


@dataclass(frozen=True)
class RecipeSize:
    """How much of a recipe runs."""

    traces_per_level: int  # skip-sft: sampled traces per level (before build-sft drops unclosed ones)
    sft_steps: int  # skip-sft: optimizer steps of SFT_BATCH examples
    grpo_steps: int  # skip-grpo, entra-grpo: optimizer steps of GRPO_PROMPTS prompts × NUM_GENERATIONS completions


SIZES = {
    "full": RecipeSize(traces_per_level=200, sft_steps=300, grpo_steps=80),  # the README's figures
    "mini": RecipeSize(traces_per_level=40, sft_steps=80, grpo_steps=40),  # CI's: the same recipe, half of it or less
}

# SFT. Official (stage1_sft_training/sft.py): LoRA r 16 on R1-Distill-Qwen-7B, lr 2e-5, 1 epoch of
# ~130 k pairs, batch 2 × 8, max length 2,048. Ours: the whole 0.9 M model, whose own training ran at
# 3e-3 (testbed/build.py), so a LoRA rate would not move it in a few hundred steps.
SFT_BATCH = 16  # the official 2 × 8
SFT_LEARNING_RATE = 5e-4  # ours (see above)
SFT_WARMUP = 10  # ours: the official 1 epoch has none stated
SFT_MAX_LENGTH = 1024  # the testbed's context (official 2,048)
ANSWER_MAX_TOKENS = 64  # the regenerated answer: "N items.\n\n**Final Answer**\n\\boxed{N}" is ~15 tokens (official 32,768)

# GRPO. Official step entropy (grpo_train.py): 8 generations, T 0.6, lr 1e-5, warm-up 100, weight
# decay 0.01, grad norm 1.0, max completion 4,096, batch 14 × 8. ENTRA: G, lr and β not published.
NUM_GENERATIONS = 8  # step entropy's official; ENTRA's G is not published
GRPO_PROMPTS = 4  # prompts per step (× 8 completions = 32 per step): ours, for 2 cores
GRPO_MAX_COMPLETION = 400  # the testbed's traces end within 400 tokens (official 4,096)
GRPO_WEIGHT_DECAY, GRPO_MAX_GRAD_NORM = 0.01, 1.0  # step entropy's official
SKIP_GRPO_TEMPERATURE = 0.6  # step entropy's official rollouts
SKIP_GRPO_LEARNING_RATE = 5e-5  # ours: the official 1e-5 was for LoRA on a 7B model
ENTRA_TEMPERATURE = 0.6  # ENTRA's is not published: the testbed's evaluation temperature (and step entropy's rollouts)
# Ours (ENTRA's is not published). At 3e-4 the testbed's thinking fell to 0.28x in 60 steps and its
# easy accuracy to 27 % (its sums broke: "24 - 3 = 20"); at 1.5e-4 with T 1.0 and no KL it did not
# shorten in 40 steps (2026-12-07).
ENTRA_LEARNING_RATE = 1e-4
ENTRA_KL_BETA = 0.04  # ENTRA optimises "a clipped objective plus KL penalty"; its β is not published: DeepSeekMath's GRPO β
GRPO_WARMUP = 5  # ours (official 100, for thousands of steps)


@dataclass(frozen=True)
class RecipeArgs:
    recipe: str
    output: str
    base: str | None = None  # default: the shipped testbed (skip-sft, entra-grpo); skip-grpo needs a skip-sft checkpoint
    size: str = "full"
    seed: int = 0
    skip_ratio: float = DEFAULT_SKIP_RATIO  # skip-sft: κ (paper §4: 0.8)
    skip_penalty: str = "code"  # skip-grpo: R_num −2 (code) or −1 (paper)
    top_fraction: float = DEFAULT_TOP_FRACTION  # entra-grpo: τ
    bie_lambda: float = DEFAULT_LAMBDA  # entra-grpo: λ
    steps: int | None = None  # override the size's steps

    def validate(self) -> None:
        def bad(name, value, expected):
            raise CotbenchError(f"cotbench testbed train: {name}={value!r} is invalid (expected {expected})")

        if self.recipe not in RECIPES:
            bad("--recipe", self.recipe, " | ".join(RECIPES))
        if self.size not in SIZES:
            bad("--size", self.size, " | ".join(SIZES))
        if not 0 < self.skip_ratio < 1:
            bad("--skip-ratio", self.skip_ratio, "a ratio in (0, 1)")
        if self.skip_penalty not in SKIP_PENALTIES:
            bad("--skip-penalty", self.skip_penalty, " | ".join(SKIP_PENALTIES))
        if not 0 <= self.top_fraction < 1:
            bad("--top-fraction", self.top_fraction, "a fraction in [0, 1)")
        if self.bie_lambda < 0:
            bad("--bie-lambda", self.bie_lambda, "a number >= 0")
        if self.steps is not None and self.steps < 1:
            bad("--steps", self.steps, "a positive integer")
        if self.recipe == "skip-grpo" and not self.base:
            raise CotbenchError("cotbench testbed train --recipe skip-grpo: pass --base FOLDER, a skip-sft checkpoint "
                                "(the last line `cotbench testbed train --recipe skip-sft` prints)")


def run_recipe(args: RecipeArgs, log=print) -> Path:
    """Train one recipe into `args.output`; returns the checkpoint folder."""
    import torch

    args.validate()
    torch.manual_seed(args.seed)
    torch.set_num_threads(THREADS)
    base_folder = _base_folder(args.base or "arith-testbed")
    started = time.time()
    output = Path(args.output)
    data_dir = output.with_name(output.name + ".data")
    data_dir.mkdir(parents=True, exist_ok=True)
    train = {"skip-sft": _skip_sft, "skip-grpo": _grpo, "entra-grpo": _grpo}[args.recipe]
    model, tokenizer, details = train(args, base_folder, data_dir, log)
    summary = {
        "what": f"{args.recipe} on the cot_arith testbed: a synthetic checkpoint, not evidence about real reasoning models",
        "recipe": asdict(args),
        "base": {"folder": str(base_folder), "sha256": _folder_sha256(base_folder)},
        **details,
        "wall_seconds": round(time.time() - started, 1),
        "threads": THREADS,
    }
    summary = save_checkpoint(model, tokenizer, output, summary)
    log(f"{args.recipe}: {summary['wall_seconds']} s, sha256 {summary['sha256']}")
    return output


def _base_folder(name: str) -> Path:
    from ..backends.model_loading import resolve_pretrained

    folder = Path(resolve_pretrained(name, None))
    if not (folder / "config.json").is_file():
        raise CotbenchError(f"--base {name}: not a model folder (no config.json); expected arith-testbed or a checkpoint folder")
    return folder


def _folder_sha256(folder: Path) -> str:
    """The sha256 a base model is named by: its build's or its training's summary, else computed."""
    for summary in ("testbed.json", SUMMARY_FILE):
        if (folder / summary).is_file():
            return json.loads((folder / summary).read_text()).get("sha256") or checkpoint_sha256(folder)
    return checkpoint_sha256(folder)


def _load(folder: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(folder, dtype="float32"), AutoTokenizer.from_pretrained(folder)


def _skip_sft(args: RecipeArgs, base: Path, data_dir: Path, log):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from .sft_data import AnswerRegenerator, add_skip_tokens, build_sft_dataset

    size = SIZES[args.size]
    model, tokenizer = _load(base)
    model.eval()
    problems = training_problems(TRAINING_LEVELS, size.traces_per_level, args.seed)
    traces = write_jsonl(sample_traces(model, tokenizer, problems, args.seed), data_dir / "traces.jsonl")
    sft_path = data_dir / "sft.jsonl"
    regenerate = AnswerRegenerator(model, tokenizer, max_new_tokens=ANSWER_MAX_TOKENS, seed=args.seed)
    count = build_sft_dataset(model, tokenizer, [str(traces)], str(sft_path), args.skip_ratio, regenerate=regenerate, log=log)
    if count == 0:
        raise CotbenchError(f"skip-sft: no usable trace in {traces} (every thinking unclosed?)")
    examples = [json.loads(line) for line in sft_path.read_text(encoding="utf-8").splitlines()]
    answers_right = _share_answered_right(examples, problems)
    log(f"skip-sft: {count} SFT examples from {len(problems)} traces; regenerated answer right on {answers_right:.1%}")
    add_skip_tokens(tokenizer, model)
    model.train()
    steps = args.steps or size.sft_steps
    config = SFTConfig(output_dir=str(data_dir / "trainer"), max_steps=steps, per_device_train_batch_size=SFT_BATCH, learning_rate=SFT_LEARNING_RATE,
                       lr_scheduler_type="cosine", warmup_steps=SFT_WARMUP, max_length=SFT_MAX_LENGTH, logging_steps=10, report_to=[],
                       use_cpu=True, save_strategy="no", bf16=False, seed=args.seed, dataloader_num_workers=0)
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(examples), processing_class=tokenizer)
    result = trainer.train()
    details = {
        "data": {"problems": len(problems), "levels": list(TRAINING_LEVELS), "sft_examples": count,
                 "sft_answers_right": answers_right, "skip_ratio": args.skip_ratio,
                 "traces_sha256": _file_sha256(traces), "sft_sha256": _file_sha256(sft_path)},
        "training": {"trainer": "trl.SFTTrainer", "steps": steps, "batch": SFT_BATCH, "learning_rate": SFT_LEARNING_RATE,
                     "final_loss": result.training_loss},
    }
    return trainer.model, tokenizer, details


@dataclass(frozen=True)
class GrpoSettings:
    """What differs between the two GRPO recipes besides the reward."""

    temperature: float
    learning_rate: float
    kl_beta: float | None  # None: TRL's default


SKIP_GRPO = GrpoSettings(SKIP_GRPO_TEMPERATURE, SKIP_GRPO_LEARNING_RATE, None)
ENTRA_GRPO = GrpoSettings(ENTRA_TEMPERATURE, ENTRA_LEARNING_RATE, ENTRA_KL_BETA)


def grpo_trainer(model, tokenizer, reward, settings: GrpoSettings, steps: int, seed: int, output_dir: Path):
    """TRL's GRPOTrainer on the training split with one reward (also bench/grpo_reward_bench.py's)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    problems = training_problems(TRAINING_LEVELS, -(-steps * GRPO_PROMPTS // len(TRAINING_LEVELS)), seed + 1)
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": prompt_text(p)}], "answer": str(p.answer)} for p in problems])
    optional = {"beta": settings.kl_beta} if settings.kl_beta is not None else {}
    config = GRPOConfig(output_dir=str(output_dir), max_steps=steps, per_device_train_batch_size=GRPO_PROMPTS * NUM_GENERATIONS,
                        num_generations=NUM_GENERATIONS, max_completion_length=GRPO_MAX_COMPLETION, temperature=settings.temperature,
                        learning_rate=settings.learning_rate, warmup_steps=GRPO_WARMUP, weight_decay=GRPO_WEIGHT_DECAY,
                        max_grad_norm=GRPO_MAX_GRAD_NORM, logging_steps=5, report_to=[], use_cpu=True, save_strategy="no", bf16=False,
                        seed=seed, **optional)
    return GRPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer, reward_funcs=[reward]), len(problems)


def _grpo(args: RecipeArgs, base: Path, data_dir: Path, log):
    steps = args.steps or SIZES[args.size].grpo_steps
    model, tokenizer = _load(base)
    if args.recipe == "skip-grpo":
        reward, settings = StepEntropyReward(args.skip_penalty), SKIP_GRPO
    else:
        reward, settings = EntraReward(model, tokenizer, bie_lambda=args.bie_lambda, top_fraction=args.top_fraction), ENTRA_GRPO
    trainer, problems = grpo_trainer(model, tokenizer, reward, settings, steps, args.seed, data_dir / "trainer")
    trainer.train()
    history = [{key: entry[key] for key in ("step", "reward", "completions/mean_length", "step_time") if key in entry}
               for entry in trainer.state.log_history if "reward" in entry]
    details = {
        "data": {"problems": problems, "levels": list(TRAINING_LEVELS)},
        "training": {"trainer": "trl.GRPOTrainer", "reward": reward.__name__, "steps": steps, "prompts_per_step": GRPO_PROMPTS,
                     "num_generations": NUM_GENERATIONS, "temperature": settings.temperature, "learning_rate": settings.learning_rate,
                     "kl_beta": trainer.args.beta, "history": history},
    }
    if args.recipe == "entra-grpo":
        details["training"].update(top_fraction=args.top_fraction, bie_lambda=args.bie_lambda)
    else:
        details["training"]["skip_penalty"] = args.skip_penalty
    log(f"{args.recipe}: {steps} GRPO steps; mean completion length {history[0].get('completions/mean_length') if history else '?'} "
        f"-> {history[-1].get('completions/mean_length') if history else '?'}")
    return trainer.model, tokenizer, details


def _share_answered_right(examples: list[dict], problems) -> float:
    """The share of SFT examples whose (regenerated) answer is the gold: what the compressed
    thinking still tells the model. Low means the pruned steps carried the answer."""
    gold = {prompt_text(p): str(p.answer) for p in problems}
    right = 0
    for example in examples:
        answer = next((value for text, value in gold.items() if text in example["prompt"]), None)
        right += answer is not None and grade_math(example["completion"], answer).correct
    return right / len(examples) if examples else 0.0


def _file_sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

