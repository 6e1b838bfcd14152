"""`cotbench leaderboard RUN_DIR… -o DIR`: LEADERBOARD.md, a static sortable index.html (from
the Jinja2 template `leaderboard/templates/leaderboard.html.j2`, autoescaped) with a Pareto chart
per benchmark, and leaderboard.json for other sites.

leaderboard.json is a JSON array with one object per row of the table (sorted as on the page),
each with these keys (null where a value does not apply):
  model, method, setting (the method's own arguments), benchmark (lm-eval task name;
  `cot_aime24_k16` = 16 repeats), samples, repeats (k),
  accuracy (avg@k, 0–1), acc_closed (0–1), pass_at_k, maj_at_k (0–1, k > 1 only),
  mean_total_tokens, mean_thinking_tokens, mean_generated_tokens,
  token_reduction, thinking_token_reduction, generated_token_reduction (0–1; each with a
  95 % CI as token_reduction_ci, thinking_token_reduction_ci, generated_token_reduction_ci:
  [low, high]), accuracy_delta_pp, accuracy_delta_ci, relative_accuracy_delta_pct, epr, epr_label, epr_relative,
  epr_relative_label (cotbench's EPR; label "ratio" when the value applies), ce (cotbench's Ce),
  p_value, paired_test, baseline_run (results folder of the baseline used), baseline_candidates
  (vanilla runs of that model and benchmark), mismatch (settings that differ from the baseline,
  only with --allow-mismatch), run (this run's results folder), by_difficulty (MATH-500 levels,
  AIME / AMC problem bands; [] for other benchmarks: a list of objects with difficulty, samples,
  accuracy, mean_total_tokens, token_reduction, token_reduction_ci, accuracy_delta_pp,
  accuracy_delta_ci, against the same baseline's samples of that group), overthinking_share,
  thinkbench_token_efficiency, underthinking_score (math tasks; docs/METHODS.md), ockscore (OckBench),
  skip_output_share, mean_skip_ratio (cotbench-skip records), mean_redundancy_score (cotbench-entra analysis=true).
"""

from __future__ import annotations

import json
from pathlib import Path

from tabulate import tabulate

from cotbench.reports import plots
from cotbench.reports.atomic import atomic_directory, safe_name
from cotbench.reports.templating import render

from .aggregate import BASELINE_RULE, leaderboard_rows

# The first six columns are what the browser test sorts by position; new columns go after them.
COLUMNS = [
    ("model", "model"), ("method", "method"), ("setting", "setting"), ("benchmark", "benchmark"), ("accuracy", "accuracy %"),
    ("mean_total_tokens", "mean tokens"), ("acc_closed", "acc_closed %"), ("mean_thinking_tokens", "mean thinking tokens"),
    ("token_reduction", "token reduction %"), ("thinking_token_reduction", "thinking-token reduction %"),
    ("accuracy_delta_pp", "Δacc pp"), ("epr", "EPR (cotbench)"), ("epr_relative", "EPR rel (cotbench)"), ("ce", "Ce (cotbench)"),
    ("samples", "n"), ("repeats", "k"), ("pass_at_k", "pass@k %"), ("maj_at_k", "maj@k %"), ("overthinking_share", "overthinking %"),
    ("thinkbench_token_efficiency", "token efficiency (ThinkBench)"), ("underthinking_score", "underthinking (ThinkBench)"), ("ockscore", "OckScore"),
    ("skip_output_share", "[SKIP] outputs %"), ("mean_skip_ratio", "skip ratio"), ("mean_redundancy_score", "redundancy score (ENTRA)"),
    ("baseline_run", "baseline"), ("mismatch", "⚠ mismatch"),
]
# The per-difficulty table: one line per row and difficulty group.
DIFFICULTY_COLUMNS = [
    ("model", "model"), ("method", "method"), ("setting", "setting"), ("benchmark", "benchmark"), ("difficulty", "difficulty"), ("samples", "n"),
    ("accuracy", "accuracy %"), ("mean_total_tokens", "mean tokens"), ("token_reduction", "token reduction %"), ("accuracy_delta_pp", "Δacc pp"),
]
PERCENT = {"accuracy", "acc_closed", "pass_at_k", "maj_at_k", "overthinking_share", "skip_output_share"}
REDUCTIONS = {"token_reduction", "thinking_token_reduction"}
EPR_ORDER = {"dominates": 1e9, "lossless": 1e8}


def _cell(row: dict, key: str) -> tuple[str, str]:
    """(display text, sort key) for one cell."""
    value = row.get(key)
    if key in ("epr", "epr_relative"):
        label = row.get(f"{key}_label")
        if value is not None and label in ("ratio", "no savings"):
            return f"{value:.2f}", f"{value}"
        return label or "–", f"{EPR_ORDER.get(label, -1e9)}"
    if value is None:
        return "–", ""
    if key in PERCENT:
        return f"{100 * value:.1f}", f"{value}"
    if key in REDUCTIONS:
        ci = row.get(f"{key}_ci")
        return f"{100 * value:.1f}" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else ""), f"{value}"
    if key == "accuracy_delta_pp":
        ci = row.get("accuracy_delta_ci")
        return f"{value:+.1f}" + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else ""), f"{value}"
    if key in ("ce", "thinkbench_token_efficiency", "underthinking_score", "mean_skip_ratio", "mean_redundancy_score"):
        return f"{value:.3f}", f"{value}"
    if key == "ockscore" or key.startswith("mean_"):
        return f"{value:.1f}", f"{value}"
    if key == "baseline_run":
        text = "/".join(Path(value).parts[-2:])
        if row.get("baseline_candidates", 0) > 1:
            text += f" (of {row['baseline_candidates']})"
        return text, text
    return str(value), str(value)


def _html_cell(row: dict, key: str) -> dict:
    text, sort = _cell(row, key)
    return {"text": text, "sort": sort, "title": row.get(key) if key == "baseline_run" else None, "warning": key == "mismatch" and bool(row.get(key))}


def _notes(rows: list[dict]) -> list[str]:
    notes = [f"Baseline rule: {BASELINE_RULE}."]
    several = sorted({(r["model"], r["benchmark"], r["baseline_candidates"]) for r in rows if r["baseline_candidates"] > 1})
    notes += [f"{model} on {benchmark}: {n} vanilla runs; each row's “baseline” column names the one it used." for model, benchmark, n in several]
    if any(r.get("mismatch") for r in rows):
        notes.append("⚠ Rows with a mismatch were compared with a baseline made differently (--allow-mismatch); their comparison is not fair.")
    notes.append("EPR and Ce are cotbench's formulas (the EntroCut and ENTRA papers publish none); EPR divides by the absolute, EPR rel by the relative accuracy loss.")
    return notes


def _difficulty_lines(rows: list[dict]) -> list[dict]:
    return [{**{key: row[key] for key in ("model", "method", "setting", "benchmark")}, **entry} for row in rows for entry in row.get("by_difficulty", [])]


def render_html(rows: list[dict], charts: list[tuple[str, str]]) -> str:
    levels = _difficulty_lines(rows)
    return render("leaderboard.html.j2", package="cotbench.leaderboard", titles=[title for _, title in COLUMNS], rows=[[_html_cell(row, key) for key, _ in COLUMNS] for row in rows],
                  level_titles=[title for _, title in DIFFICULTY_COLUMNS], levels=[[_html_cell(line, key) for key, _ in DIFFICULTY_COLUMNS] for line in levels],
                  charts=[{"title": t, "file": f} for t, f in charts], notes=_notes(rows), baseline_rule=BASELINE_RULE)


def render_markdown(rows: list[dict], charts) -> str:
    table = [{title: _cell(row, key)[0] for key, title in COLUMNS} for row in rows]
    lines = ["# cotbench leaderboard", "", tabulate(table, headers="keys", tablefmt="github"), ""]
    lines += [f"- {note}" for note in _notes(rows)] + [""]
    levels = _difficulty_lines(rows)
    if levels:
        lines += ["## By difficulty", "", tabulate([{title: _cell(line, key)[0] for key, title in DIFFICULTY_COLUMNS} for line in levels], headers="keys", tablefmt="github"), ""]
    lines += [f"![{t}]({f})" for t, f in charts]
    return "\n".join(lines) + "\n"


def build_leaderboard(run_dirs: list[str], out_dir: str, allow_mismatch: bool = False, baseline_dir: str | None = None) -> Path:
    rows = leaderboard_rows(run_dirs, allow_mismatch, baseline_dir)
    rows.sort(key=lambda r: (r["benchmark"], r["model"], -r["accuracy"], r["method"], r["setting"], r["run"]))
    with atomic_directory(out_dir) as staging:
        charts = []
        for benchmark in sorted({r["benchmark"] for r in rows}):
            points = [{"label": (f"{r['method']} {r['setting']}".strip() + f" ({r['model']})")[:48], "tokens": r["mean_total_tokens"], "accuracy": r["accuracy"]}
                      for r in rows if r["benchmark"] == benchmark and r["mean_total_tokens"] is not None]
            if points:
                name = f"pareto_{safe_name(benchmark)}.png"
                plots.pareto(points, benchmark, staging / name)
                charts.append((benchmark, name))
        (staging / "index.html").write_text(render_html(rows, charts), encoding="utf-8")
        (staging / "LEADERBOARD.md").write_text(render_markdown(rows, charts), encoding="utf-8")
        (staging / "leaderboard.json").write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")
    return Path(out_dir)
