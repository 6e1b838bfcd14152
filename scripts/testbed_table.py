"""The demo's testbed comparison as one compact table: accuracy and total-token reduction per
method and level, from `cotbench leaderboard`'s leaderboard.json.

    python scripts/testbed_table.py runs/demo/arith/leaderboard/leaderboard.json [OTHER.json ...]

With more than one file (the same demo on another CPU path, with another thread count), each cell
is the first file's value and the largest difference from it in any other file: the tolerance
the README states is that figure, measured, not guessed (issue 23).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LEVELS = ("cot_arith_easy", "cot_arith_medium")
COLUMNS = (("accuracy", 100.0), ("token_reduction", 100.0))


def cells(path: Path) -> dict[tuple[str, str, str], float]:
    """(method setting, level, column) -> value in percent."""
    found = {}
    for row in json.loads(path.read_text()):
        if row["benchmark"] not in LEVELS:
            continue
        name = f"{row['method']} {row['setting'] or ''}".strip()
        for column, scale in COLUMNS:
            if row.get(column) is not None:
                found[(name, row["benchmark"], column)] = scale * row[column]
    return found


def table(paths: list[Path]) -> str:
    reference, *others = [cells(path) for path in paths]
    # By medium accuracy, ties by name: a set's order changes from run to run.
    names = sorted({key[0] for key in reference}, key=lambda name: (-reference.get((name, LEVELS[1], "accuracy"), 0), name))
    header = ["method (setting)", *(f"{column.replace('_', ' ')} % {level.removeprefix('cot_arith_')}" for column, _ in COLUMNS for level in LEVELS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        row = [name]
        for column, _ in COLUMNS:
            for level in LEVELS:
                key = (name, level, column)
                if key not in reference:
                    row.append("–")
                    continue
                spread = max((abs(other[key] - reference[key]) for other in others if key in other), default=None)
                row.append(f"{reference[key]:.1f}" + (f" ± {spread:.1f}" if spread is not None else ""))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python scripts/testbed_table.py LEADERBOARD.json [OTHER.json ...]")
    print(table([Path(arg) for arg in sys.argv[1:]]))
