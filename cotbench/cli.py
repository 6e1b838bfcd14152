"""`cotbench` command line: `eval` is lm-eval's own CLI with our adapters and tasks registered.

lm-eval 0.4.13 has no plugin discovery for models, so `cotbench eval` imports our adapters
(their `@register_model` runs), puts our task folder on `--include_path`, and hands every
flag to lm-eval's `cli_evaluate()` unchanged. When only cot_* tasks are asked for, lm-eval's
~15 s indexing of its own thousands of task YAMLs is skipped.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from .errors import CotbenchError

USAGE = """usage: cotbench <command> [args]   (cotbench --version: cotbench's and lm-eval's versions)

commands:
  eval         lm-eval's CLI (its own parser: same flags and spellings; cotbench eval --help) with cotbench
               adapters and cot_* tasks registered;
               --repeats N runs each cot_* task N times per problem (tasks cot_X_kN: avg@N, pass@k, maj@N)
  methods      list the registered cotbench-<method> adapters
  report       RUN_DIR [--baseline RUN_DIR] [--allow-mismatch] -o OUT: Markdown, HTML, JSON, CSV and plots
  leaderboard  RUN_DIR... [--allow-mismatch] [--baseline RUN_DIR] -o DIR: LEADERBOARD.md, a sortable index.html and
               leaderboard.json (--baseline: every run against that one, e.g. trained checkpoints against their base)
  compare      BASELINE NEW [--max-acc-drop PTS] [--max-token-increase PCT] [--alpha A] [--allow-mismatch]:
               exit 0 ok, 1 regression, 2 bad input or runs made differently

Runs made differently (model, task version, temperature, top_p, top_k, min_p, presence or
repetition penalty, max_gen_toks, --limit) are not compared: one line names the setting and
both values, exit 2. --allow-mismatch compares them anyway and shows the differences.
  testbed      verify: check the shipped cot_arith model (pretrained=arith-testbed) against its pinned sha256;
               build [--output DIR] [--seed N] [--steps N]: train it again (~20 min), for changes to its traces;
               train --recipe skip-sft|skip-grpo|entra-grpo -o DIR [--base DIR] [--size full|mini]: a trained checkpoint
  build-sft    TRACES... -o OUT.jsonl [--model M] [--chat-model M] [--skip-ratio 0.8] [--step-split text|token]
               [--answer regenerate|copy] [--max-tokens 4096]: compressed-CoT SFT data ([SKIP]) for TRL
"""


EVAL_EXAMPLES = """examples:
  $ cotbench eval --model cotbench-entrocut --model_args pretrained=arith-testbed --tasks cot_arith_easy --limit 20 --log_samples -o runs/entrocut
  $ cotbench eval --model cotbench-vanilla --model_args pretrained=deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --tasks cot_aime24 cot_aime25 --repeats 16 --apply_chat_template --log_samples -o runs/k16
  $ cotbench eval --model hf --model_args pretrained=Qwen/Qwen3-0.6B --tasks cot_gsm8k --apply_chat_template --log_samples -o runs/plain

Flags are lm-eval's own (lm-eval run --help); cotbench adds --repeats. README: "cotbench eval and plain lm_eval"."""


MISMATCH_HELP = "compare runs made with different settings anyway, with the differences shown as a warning"


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as a CotbenchError (one line, exit 2)."""

    def error(self, message):
        raise CotbenchError(f"{self.prog}: {message}")


def report_command(argv: list[str]) -> int:
    from cotbench.reports.report import build_report

    parser = _Parser(prog="cotbench report")
    parser.add_argument("run_dir")
    parser.add_argument("--baseline", default=None)
    parser.add_argument("--allow-mismatch", action="store_true", help=MISMATCH_HELP)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    out = build_report(args.run_dir, args.baseline, args.output, args.allow_mismatch)
    print(f"report written to {out}/report.md (also report.html, report.json, report.csv)")
    return 0


def leaderboard_command(argv: list[str]) -> int:
    from cotbench.leaderboard.page import build_leaderboard

    parser = _Parser(prog="cotbench leaderboard")
    parser.add_argument("run_dirs", nargs="+")
    parser.add_argument("--allow-mismatch", action="store_true", help=MISMATCH_HELP)
    parser.add_argument("--baseline", default=None, help="compare every run with this run (trained checkpoints with their base model; "
                        "the model difference is shown, not refused)")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    out = build_leaderboard(args.run_dirs, args.output, args.allow_mismatch, args.baseline)
    print(f"leaderboard written to {out}/LEADERBOARD.md, {out}/index.html and {out}/leaderboard.json")
    return 0


def compare_command(argv: list[str]) -> int:
    from cotbench.leaderboard.compare import compare_runs, format_table

    parser = _Parser(prog="cotbench compare")
    parser.add_argument("baseline")
    parser.add_argument("new")
    parser.add_argument("--max-acc-drop", type=float, default=1.0, help="accuracy points a benchmark may lose (default 1)")
    parser.add_argument("--max-token-increase", type=float, default=10.0, help="percent more tokens allowed (default 10)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level of the paired test (default 0.05)")
    parser.add_argument("--allow-mismatch", action="store_true", help=MISMATCH_HELP)
    args = parser.parse_args(argv)
    rows, regressed = compare_runs(args.baseline, args.new, args.max_acc_drop, args.max_token_increase, args.alpha, args.allow_mismatch)
    print(format_table(rows))
    print("REGRESSION" if regressed else "OK: within bounds")
    return 1 if regressed else 0


def eval_parser() -> argparse.ArgumentParser:
    """lm-eval's own `run` parser, so `cotbench eval` accepts every flag and spelling lm-eval does
    (`--tasks a b`, `--tasks a,b`, `-t a`, `--tasks=a`, `-a k=v`, …) and shows lm-eval's help, plus
    our `--repeats`. Built through lm-eval's `Run.create` on a subcommand table of our own, so bad
    usage is one line (`_Parser`) instead of argparse's usage dump."""
    from lm_eval._cli.run import Run

    commands = argparse.ArgumentParser(prog="cotbench").add_subparsers(parser_class=_Parser)
    Run.create(commands)
    parser = commands.choices["run"]
    parser.prog = "cotbench eval"
    parser.usage = "cotbench eval --model <model> --tasks <task> <task> --model_args <arg=value> [--repeats <n>] [options]"
    parser.epilog = EVAL_EXAMPLES
    group = parser.add_argument_group("cotbench")
    group.add_argument(
        "--repeats", default=None, metavar="<n>",
        help="generate each problem of each chosen cot_* task (or group) <n> times: tasks cot_X_k<n> report acc as avg@<n>, pass@k and maj@<n>",
    )
    return parser


def run_lm_eval(argv: list[str]) -> None:
    """Run lm-eval's CLI in-process with cotbench's adapters and tasks registered; with
    `--repeats N`, on N-repeat variants of the chosen cot_* tasks written to a temporary folder."""
    from cotbench.harness_tasks import TASKS_DIR

    from .repeats import parse_repeats, write_variants

    args = eval_parser().parse_args(argv)
    repeats = vars(args).pop("repeats")  # lm-eval's EvaluatorConfig takes every key it is given
    args.tasks = [task.strip() for task in args.tasks or [] if task.strip()] or None
    if repeats is None:
        return _evaluate(args, [])
    repeats = parse_repeats(repeats)  # here, not as an argparse type: argparse would swallow our message
    if not args.tasks:
        raise CotbenchError("--repeats needs --tasks (the cot_* tasks to repeat)")
    with tempfile.TemporaryDirectory(prefix="cotbench-repeats-") as folder:
        args.tasks = write_variants(args.tasks, repeats, Path(folder), TASKS_DIR)
        _evaluate(args, [folder])


def _evaluate(args: argparse.Namespace, extra_include: list[str]) -> None:
    import lm_eval.tasks
    from lm_eval.utils import setup_logging

    from cotbench.cot_methods import register_all
    from cotbench.harness_tasks import TASKS_DIR

    register_all()
    original_init = lm_eval.tasks.TaskManager.__init__
    skip_defaults = bool(args.tasks) and all(task.startswith("cot") for task in args.tasks)
    ours = [*([] if _lm_eval_finds(TASKS_DIR) else [TASKS_DIR]), *extra_include]

    def task_manager_init(self, *init_args, include_path=None, include_defaults=True, **kwargs):
        """Our task folder joins whatever --include_path the user gave."""
        paths = [] if include_path is None else ([include_path] if isinstance(include_path, str) else list(include_path))
        paths += ours
        original_init(self, *init_args, include_path=paths, include_defaults=include_defaults and not skip_defaults, **kwargs)

    setup_logging()
    lm_eval.tasks.TaskManager.__init__ = task_manager_init
    try:
        args.func(args)
    finally:  # an in-process caller (tests, notebooks) gets lm-eval back as it was
        lm_eval.tasks.TaskManager.__init__ = original_init


def _lm_eval_finds(tasks_dir: str) -> bool:
    """Whether lm-eval indexes our task folder itself, through our `lm_eval.tasks` entry point
    (lm-eval PR #4015). Then it is not added again: a folder indexed twice warns once per task."""
    from lm_eval.tasks import manager

    discover = getattr(manager, "discover_plugin_task_paths", None)
    return discover is not None and Path(tasks_dir).resolve() in discover()


def build_sft_command(argv: list[str]) -> int:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cotbench.cot_methods.backends.model_loading import resolve_pretrained
    from cotbench.cot_methods.signals.steps import DEFAULT_STEP_SPLIT, STEP_SCORES, STEP_SPLITS
    from cotbench.cot_methods.training.sft_data import MAX_SFT_TOKENS, build_sft_dataset

    parser = _Parser(prog="cotbench build-sft")
    parser.add_argument("inputs", nargs="+", help="lm-eval samples_*.jsonl files or JSONL with problem/response")
    parser.add_argument("--model", default="smollm2-135m", help="scoring model (hub id, folder or smollm2-135m)")
    parser.add_argument("--chat-model", default=None, help="the model to fine-tune: its chat template renders the prompts (default: --model)")
    parser.add_argument("--skip-ratio", type=float, default=0.8)
    parser.add_argument("--score", choices=STEP_SCORES, default="mean")
    parser.add_argument("--step-split", choices=STEP_SPLITS, default=DEFAULT_STEP_SPLIT,
                        help="text: every blank line; token: the released code's rule (signals/steps.py)")
    parser.add_argument("--answer", choices=("regenerate", "copy"), default="regenerate",
                        help="regenerate the answer after the compressed thinking (the paper's) or copy the trace's")
    parser.add_argument("--max-tokens", type=int, default=MAX_SFT_TOKENS,
                        help=f"drop longer examples (default {MAX_SFT_TOKENS}, the paper's filter; 0: keep all)")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    if not 0 <= args.skip_ratio <= 1:
        raise CotbenchError(f"--skip-ratio={args.skip_ratio}: expected a ratio in [0, 1]")
    if args.max_tokens < 0:
        raise CotbenchError(f"--max-tokens={args.max_tokens}: expected a positive number of tokens, or 0 to keep every example")
    path = resolve_pretrained(args.model, None)
    tokenizer = AutoTokenizer.from_pretrained(path)
    chat_tokenizer = AutoTokenizer.from_pretrained(resolve_pretrained(args.chat_model, None)) if args.chat_model else None
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    count = build_sft_dataset(model, tokenizer, args.inputs, args.output, args.skip_ratio, args.score, answer=args.answer,
                              max_tokens=args.max_tokens or None, step_split=args.step_split, chat_tokenizer=chat_tokenizer)
    print(f"{count} SFT examples written to {args.output}")
    return 0


def testbed_command(argv: list[str]) -> int:
    import json

    from cotbench.cot_methods.testbed.build import SUMMARY_FILE, TestbedConfig, build_testbed, default_testbed_dir
    from cotbench.cot_methods.testbed.shipped import SHIPPED_DIR, SHIPPED_SHA256, resolve_testbed

    if not argv or argv[0] not in ("build", "verify", "train"):
        raise CotbenchError(f"cotbench testbed: expected the subcommand 'build', 'verify' or 'train', got {argv[0] if argv else 'nothing'!r}")
    if argv[0] == "train":
        return testbed_train_command(argv[1:])
    if argv[0] == "verify":
        _Parser(prog="cotbench testbed verify").parse_args(argv[1:])
        folder = resolve_testbed("arith-testbed")
        info = json.loads((folder / SUMMARY_FILE).read_text())
        libraries = ", ".join(f"{name} {version}" for name, version in info["libraries"].items())
        print(f"arith-testbed: sha256 {SHIPPED_SHA256} (pinned, verified); seed {info['config']['seed']}, "
              f"{info['config']['steps']} steps, built with {libraries}; {folder}")
        return 0
    parser = _Parser(prog="cotbench testbed build")
    parser.add_argument("--output", default=None, help="folder to write (default: the cache, keyed by the config and the code)")
    parser.add_argument("--seed", type=int, default=TestbedConfig.seed)
    parser.add_argument("--steps", type=int, default=TestbedConfig.steps)
    args = parser.parse_args(argv[1:])
    if args.steps < 1:
        raise CotbenchError(f"--steps {args.steps}: expected a positive integer")
    config = TestbedConfig(seed=args.seed, steps=args.steps)
    folder = build_testbed(args.output or default_testbed_dir(config), config, log=lambda message: print(message, file=sys.stderr))
    sha = json.loads((folder / SUMMARY_FILE).read_text())["sha256"]
    same = "the same as" if sha == SHIPPED_SHA256 else "not"
    print(f"sha256 {sha}: {same} the shipped testbed ({SHIPPED_SHA256}, {SHIPPED_DIR}); load it with pretrained={folder}", file=sys.stderr)
    print(folder)
    return 0


def testbed_train_command(argv: list[str]) -> int:
    from cotbench.cot_methods.training.recipes import RECIPES, SIZES, RecipeArgs, run_recipe

    defaults = RecipeArgs(recipe="", output="")
    parser = _Parser(prog="cotbench testbed train", description="train a step-entropy or ENTRA checkpoint from the testbed model")
    parser.add_argument("--recipe", required=True, help=" | ".join(RECIPES))
    parser.add_argument("-o", "--output", required=True, help="the checkpoint folder to write (its data go to FOLDER.data/)")
    parser.add_argument("--base", default=None, help="the model to start from (default arith-testbed; skip-grpo: a skip-sft checkpoint)")
    parser.add_argument("--size", default=defaults.size, help=f"{' | '.join(SIZES)} (mini: CI's miniature)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the size's)")
    parser.add_argument("--skip-ratio", type=float, default=defaults.skip_ratio, help="skip-sft: κ, the share of steps replaced by [SKIP]")
    parser.add_argument("--skip-penalty", default=defaults.skip_penalty, help="skip-grpo: code (−2) | paper (−1) above 100 [SKIP]")
    parser.add_argument("--top-fraction", type=float, default=defaults.top_fraction, help="entra-grpo: τ, the most important share left out")
    parser.add_argument("--bie-lambda", type=float, default=defaults.bie_lambda, help="entra-grpo: λ of the importance")
    args = parser.parse_args(argv)
    recipe = RecipeArgs(recipe=args.recipe, output=args.output, base=args.base, size=args.size, seed=args.seed, steps=args.steps,
                        skip_ratio=args.skip_ratio, skip_penalty=args.skip_penalty, top_fraction=args.top_fraction, bie_lambda=args.bie_lambda)
    recipe.validate()
    folder = run_recipe(recipe, log=lambda message: print(message, file=sys.stderr))
    print(folder)
    return 0


COMMANDS = {"testbed": testbed_command, "report": report_command, "leaderboard": leaderboard_command, "compare": compare_command, "build-sft": build_sft_command}


def version_line() -> str:
    """Both versions, since which lm-eval is installed decides what works (README: lm-eval versions)."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    try:
        lm_eval_version = version("lm_eval")
    except PackageNotFoundError:
        lm_eval_version = "not installed"
    return f"cotbench {__version__} (lm-eval {lm_eval_version})"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] == "--version":
        print(version_line())
        return 0
    command, rest = argv[0], argv[1:]
    try:
        if command == "eval":
            run_lm_eval(rest)
        elif command == "methods":
            from lm_eval.api.registry import model_registry

            from cotbench.cot_methods import register_all

            register_all()
            for name in sorted(n for n in model_registry if n.startswith("cotbench-")):
                print(name)
        elif command in COMMANDS:
            return COMMANDS[command](rest)
        else:
            print(f"cotbench: unknown command {command!r} (expected one of: eval, methods, {', '.join(COMMANDS)})", file=sys.stderr)
            return 2
    except CotbenchError as error:
        print(f"cotbench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    except Exception as error:  # lm-eval's own errors (unknown task, bad flag value, …)
        logging.getLogger("cotbench").debug("failure", exc_info=True)
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"cotbench: error: {type(error).__name__}: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
