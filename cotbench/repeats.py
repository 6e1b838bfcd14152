"""`cotbench eval --repeats N`: every chosen cot_* task N times per problem, with no YAML from the user.

lm-eval repeats a task through its `repeats:` key. For each requested cot_* task we write a
variant into a temporary include folder (`include:` of our YAML, a new name, `repeats: N`);
a group (cot_math, cot_all, cot_arith) becomes a group of variants. The name carries the
count, `cot_aime24_k16`, and `split_repeats` reads it back: reports, the leaderboard and
compare show such a task as benchmark cot_aime24 with avg@16, pass@16 and maj@16 (computed
from the 16 generations each sample record holds, not from the name).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .errors import CotbenchError

VARIANT = re.compile(r"^(?P<task>cot_\w+?)_k(?P<repeats>[1-9]\d*)$")


def variant_name(task: str, repeats: int) -> str:
    return f"{task}_k{repeats}"


def split_repeats(name: str) -> tuple[str, int | None]:
    """("cot_aime24", 16) for "cot_aime24_k16"; (name, None) for a task without the suffix."""
    match = VARIANT.match(name)
    return (match["task"], int(match["repeats"])) if match else (name, None)


class _TaskYamlLoader(yaml.SafeLoader):
    """Reads lm-eval task YAML for its keys only: `!function` values stay plain strings."""


_TaskYamlLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def parse_repeats(value: str) -> int:
    try:
        repeats = int(value)
    except ValueError:
        repeats = 0
    if repeats < 1 or str(repeats) != value.strip():
        raise CotbenchError(f"--repeats {value!r}: expected a whole number of generations per problem, 1 or more")
    return repeats


def write_variants(tasks: list[str], repeats: int, folder: Path, tasks_dir: str | Path) -> list[str]:
    """Write the `repeats` variant of each task (or group) into `folder`; return their names."""
    return [_write_variant(task, repeats, Path(folder), Path(tasks_dir)) for task in tasks]


def _write_variant(task: str, repeats: int, folder: Path, tasks_dir: Path) -> str:
    source = tasks_dir / f"{task}.yaml"
    if not task.startswith("cot_") or not source.is_file():
        known = sorted(p.stem for p in tasks_dir.glob("cot_*.yaml"))
        raise CotbenchError(f"--repeats: {task!r} is not a cotbench task (expected one of: {', '.join(known)})")
    config = yaml.load(source.read_text(encoding="utf-8"), Loader=_TaskYamlLoader) or {}
    name = variant_name(task, repeats)
    if "group" in config:
        members = [_write_variant(member, repeats, folder, tasks_dir) for member in config.get("task", [])]
        variant = {"group": name, "task": members, **{k: v for k, v in config.items() if k not in ("group", "task")}}
    else:
        variant = {"include": str(source.resolve()), "task": name, "repeats": repeats}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(variant, sort_keys=False), encoding="utf-8")
    return name
