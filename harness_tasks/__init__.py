"""lm-eval task definitions (YAML) for the six benchmarks, their loaders and the grader."""

from pathlib import Path

# Pass this to lm-eval's `--include_path` (or `TaskManager(include_path=...)`).
TASKS_DIR = str(Path(__file__).resolve().parent)
