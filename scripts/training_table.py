"""The README's "Training recipes on the testbed" table, from `cotbench leaderboard --baseline`'s
leaderboard.json and the checkpoints' train.json (scripts/train_recipes.sh runs both).

    python scripts/training_table.py runs/train/leaderboard/leaderboard.json runs/train/checkpoints
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LEVELS = ("cot_arith_easy", "cot_arith_medium", "cot_arith_hard")


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _number(value, digits=1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _epr(row) -> str:
    if row.get("epr") is not None and row.get("epr_label") in ("ratio", "no savings"):
        return f"{row['epr']:.2f}"
    return row.get("epr_label") or "–"


def table(leaderboard: Path, checkpoints: Path) -> str:
    rows = json.loads(leaderboard.read_text())
    trained = {}  # checkpoint folder name -> (sha256 prefix, wall seconds)
    for summary in sorted(checkpoints.glob("*/train.json")):
        info = json.loads(summary.read_text())
        trained[summary.parent.name] = (info["sha256"][:12], info["wall_seconds"])
    header = ["model (adapter)", "level", "acc %", "thinking", "total", "Δacc pp", "thinking-token reduction %", "[SKIP] outputs %",
              "redundancy", "Ce", "EPR"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in sorted(rows, key=lambda r: (LEVELS.index(r["benchmark"]) if r["benchmark"] in LEVELS else 9, r["model"], r["method"])):
        if row["benchmark"] not in LEVELS:
            continue
        name = Path(row["model"]).name if Path(row["model"]).name in trained else f"base: {row['model']}"
        lines.append("| " + " | ".join([
            f"{name} ({row['method']})", row["benchmark"].removeprefix("cot_arith_"), _percent(row["accuracy"]),
            _number(row["mean_thinking_tokens"]), _number(row["mean_total_tokens"]),
            "–" if row.get("accuracy_delta_pp") is None else f"{row['accuracy_delta_pp']:+.1f}",
            _percent(row.get("thinking_token_reduction")), _percent(row.get("skip_output_share")),
            _number(row.get("mean_redundancy_score"), 3), _number(row.get("ce"), 3), _epr(row),
        ]) + " |")
    made = ["", "| checkpoint | sha256 | wall time |", "|---|---|---|"]
    made += [f"| {label} | `{sha}…` | {seconds:.0f} s |" for label, (sha, seconds) in trained.items()]
    return "\n".join(lines + made)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python scripts/training_table.py LEADERBOARD.json CHECKPOINTS_DIR")
    print(table(Path(sys.argv[1]), Path(sys.argv[2])))
