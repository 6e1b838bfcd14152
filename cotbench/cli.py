"""`cotbench` command line: `eval` is lm-eval's own CLI with our adapters and tasks registered.

lm-eval 0.4.13 has no plugin discovery for models, so `cotbench eval` imports our adapters
(their `@register_model` runs), puts our task folder on `--include_path`, and hands every
flag to lm-eval's `cli_evaluate()` unchanged. When only cot_* tasks are asked for, lm-eval's
~15 s indexing of its own thousands of task YAMLs is skipped.
"""

from __future__ import annotations

import logging
import sys

from cotbench.errors import CotbenchError

USAGE = """usage: cotbench <command> [args]

commands:
  eval         lm-eval's CLI (same flags) with cotbench adapters and cot_* tasks registered
  methods      list the registered cotbench-<method> adapters
"""


def _flag_value(argv: list[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _only_cotbench_tasks(argv: list[str]) -> bool:
    tasks = _flag_value(argv, "--tasks")
    return bool(tasks) and all(t.strip().startswith("cot") for t in tasks.split(","))


def run_lm_eval(argv: list[str]) -> None:
    """Run lm-eval's CLI in-process with cotbench's adapters and tasks registered."""
    import lm_eval.tasks
    from lm_eval.__main__ import cli_evaluate

    from cotbench.cot_methods import register_all
    from cotbench.harness_tasks import TASKS_DIR

    register_all()
    original_init = lm_eval.tasks.TaskManager.__init__
    skip_defaults = _only_cotbench_tasks(argv)

    def task_manager_init(self, *args, include_path=None, include_defaults=True, **kwargs):
        """Our task folder joins whatever --include_path the user gave."""
        paths = [] if include_path is None else ([include_path] if isinstance(include_path, str) else list(include_path))
        paths.append(TASKS_DIR)
        original_init(self, *args, include_path=paths, include_defaults=include_defaults and not skip_defaults, **kwargs)

    lm_eval.tasks.TaskManager.__init__ = task_manager_init
    sys.argv = ["lm_eval", *argv]
    cli_evaluate()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
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
        else:
            print(f"cotbench: unknown command {command!r} (expected one of: eval, methods)", file=sys.stderr)
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
