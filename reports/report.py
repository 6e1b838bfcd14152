"""`cotbench report RUN_DIR [--baseline RUN_DIR] -o OUT`: Markdown, HTML, JSON and CSV.

The report states how it was made (model, adapter and its arguments, tasks, decoding,
versions, seeds) and shows accuracy (avg@k, acc_closed, pass@k and maj@k with repeats) and
tokens per benchmark, the comparison with a baseline run (total- and thinking-token reduction,
Δacc, cotbench's EPR and Ce, with paired BCa-bootstrap CIs and the paired test's p), and
figures. A baseline made differently (model, task version, decoding, limit) is refused unless
--allow-mismatch, which shows the differences as a warning on the page and in a column.
The HTML comes from a Jinja2 template with autoescape (`reports/templates/report.html.j2`).
"""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

from tabulate import tabulate

import cotbench

from . import plots
from .atomic import atomic_directory, safe_name
from .metrics import run_summary, sample_tokens
from .runs import CONFIGURED_NOTE, Run, check_comparable, load_run, recorded_decoding
from .templating import render

DEFINITIONS = [
    ("accuracy", "avg@k: the mean over problems of the fraction of the k generations graded correct"),
    ("acc_closed", "accuracy where a generation whose thinking never closed counts as wrong"),
    ("pass@k / maj@k", "with k > 1 repeats: unbiased pass@k (Chen et al. 2021); the majority extracted answer's correctness (ties: the answer seen first)"),
    ("token reduction", "1 − Σ method tokens / Σ baseline tokens over paired samples; on total tokens, and on thinking tokens beside it"),
    ("generated-token reduction", "the same on every token generated, including the thinking a post-hoc method prunes afterwards"),
    ("EPR (cotbench)", "cotbench's formula: token savings % / accuracy loss in pp; EPR rel: / relative accuracy loss in %; labels when nothing is lost"),
    ("Ce (cotbench)", "cotbench's formula: token reduction × acc / acc of the baseline"),
    ("difficulty", "MATH-500's level (1–5, from the dataset); for AIME and AMC the problem's number in its contest, in bands of five (cotbench's grouping: later problems are harder)"),
    ("overthinking % / tokens to 1st correct", "the thinking after the first \\n\\n-step whose stated answer (box or \"the answer is\") our grader accepts, and the thinking tokens up to it; over correct generations that stated it (docs/METHODS.md)"),
    ("token efficiency (ThinkBench)", "EvalScope ThinkBench's M_token: mean share of the thinking up to the first correct step, 0 for a wrong answer"),
    ("underthinking (ThinkBench)", "ξ_UT (arXiv 2501.18585): mean share of the thinking after the first correct step, over wrong answers"),
    ("OckScore", "OckBench's accuracy % − 10·ln(mean tokens / 10,000 + 1), on generated tokens"),
    ("paired test p", "exact McNemar with one generation per problem; a paired permutation test on per-problem accuracies with repeats"),
]

ENTROPY_METHODS = {"entrocut", "eat", "deer", "dynasor"}
TRACE_SAMPLES = 4


def provenance(run: Run) -> dict:
    config = run.config.get("config", {})
    configs = run.config.get("configs", {})
    return {
        "model": run.model,
        "adapter": run.adapter,
        "model_args": run.model_args,
        "tasks": sorted(run.tasks),
        "decoding": {t: configs.get(t, {}).get("generation_kwargs") for t in sorted(run.tasks)},
        # What ran (the records' adapter.decoding; protocol=paper overrides the configuration): what comparisons check.
        "decoding_ran": {t: recorded_decoding(run, t) or CONFIGURED_NOTE for t in sorted(run.tasks)},
        "cli_gen_kwargs": config.get("gen_kwargs"),
        "limit": config.get("limit"),
        "seeds": {k: config.get(k) for k in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")},
        "lm_eval_version": run.config.get("lm_eval_version"),
        "transformers_version": run.config.get("transformers_version"),
        "cotbench_version": cotbench.__version__,
        "date": run.config.get("date"),
        "path": str(run.path),
    }


def _fmt(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(ci, scale=1.0, digits=1):
    return f"[{ci[0] * scale:.{digits}f}, {ci[1] * scale:.{digits}f}]" if ci else "–"


def _reduction(v: dict, key: str) -> str:
    return f"{100 * v[key]:.1f} {_ci(v[key + '_ci'], 100)}" if key in v else "–"


def _epr(value, label) -> str:
    return _fmt(value, 2) if value is not None and label == "ratio" else (label or "–")


def table_rows(summary: dict, mismatches: dict[str, list[str]] | None = None) -> list[dict]:
    rows = []
    for task, s in sorted(summary.items()):
        row = {
            "benchmark": task,
            "n": s["samples"],
            "k": s["repeats"],
            "accuracy %": round(100 * s["accuracy"], 2),
            "acc_closed %": round(100 * s["acc_closed"], 2) if "acc_closed" in s else "–",
        }
        k = s["repeats"]
        if k > 1:
            row[f"pass@{k} %"] = round(100 * s[f"pass@{k}"], 2)
            row[f"maj@{k} %"] = round(100 * s[f"maj@{k}"], 2)
        row.update({
            "mean thinking": _fmt(s.get("mean_thinking_tokens"), 1),
            "mean answer": _fmt(s.get("mean_answer_tokens"), 1),
            "mean probe": _fmt(s.get("mean_probe_tokens"), 1),
            "mean total": _fmt(s.get("mean_total_tokens"), 1),
            **({"mean generated": _fmt(s.get("mean_generated_tokens"), 1)} if "mean_generated_tokens" in s else {}),
            "median total": _fmt(s.get("median_total_tokens"), 1),
            "truncated %": _fmt(100 * s["truncation_rate"], 1) if "truncation_rate" in s else "–",
            "tok/s": _fmt(s.get("tokens_per_s"), 1),
        })
        if s.get("failed_generations"):  # requests that failed for good: graded request_failed (wrong)
            row["failed requests"] = s["failed_generations"]
        row.update(overthinking_cells(s))
        row.update(trained_method_cells(s))
        if "probe_entropy_auroc" in s:
            row["probe entropy AUROC"] = f"{s['probe_entropy_auroc']:.3f} (n={s['graded_probes']})"
        v = s.get("versus_baseline")
        if v and v.get("paired_samples"):
            row["baseline acc %"] = round(100 * s["baseline"]["accuracy"], 2)
            row["Δacc pp [95% CI]"] = f"{v['accuracy_delta_pp']:+.1f} {_ci(v['accuracy_delta_ci'])}"
            if "token_reduction" in v:
                row["token reduction % [95% CI]"] = _reduction(v, "token_reduction")
                row["thinking-token reduction % [95% CI]"] = _reduction(v, "thinking_token_reduction")
                if "generated_token_reduction" in v:
                    row["generated-token reduction % [95% CI]"] = _reduction(v, "generated_token_reduction")
                row["EPR (cotbench)"] = _epr(v["epr"], v["epr_label"])
                row["EPR rel (cotbench)"] = _epr(v.get("epr_relative"), v.get("epr_relative_label"))
                row["Ce (cotbench)"] = _fmt(v["ce"])
            row["paired test p"] = f"{_fmt(v['p_value'])} ({v['paired_test']})"
        if mismatches is not None and task in mismatches:
            row["⚠ setting mismatch"] = "; ".join(mismatches[task]) or "–"
        rows.append(row)
    return rows


def overthinking_cells(s: dict) -> dict:
    """The overthinking views of one summary (math tasks) and OckScore (every task with tokens)."""
    cells = {}
    if "thinkbench_token_efficiency" in s:
        share, eff, under = s["overthinking_share"], s["thinkbench_token_efficiency"], s["underthinking_score"]
        cells["overthinking %"] = _fmt(100 * share, 1) if share is not None else "–"
        cells["tokens to 1st correct"] = _fmt(s["tokens_to_first_correct"], 1)
        cells["token efficiency (ThinkBench)"] = _fmt(eff)
        cells["underthinking (ThinkBench)"] = _fmt(under) if under is not None else "–"
    if "ockscore" in s:
        cells["OckScore"] = _fmt(s["ockscore"], 2)
    return cells


def trained_method_cells(s: dict) -> dict:
    """The [SKIP] rate and ENTRA's redundancy score, where the records carry them."""
    cells = {}
    if "skip_output_share" in s:
        cells["[SKIP] outputs %"] = _fmt(100 * s["skip_output_share"], 1)
        cells["skip ratio"] = _fmt(s["mean_skip_ratio"])
    if "mean_redundancy_score" in s:
        cells["redundancy score (ENTRA)"] = _fmt(s["mean_redundancy_score"])
    return cells


def difficulty_rows(summary: dict) -> list[dict]:
    """One row per benchmark and difficulty group (MATH-500 levels, AIME / AMC problem bands)."""
    rows = []
    for task, s in sorted(summary.items()):
        for group, g in s.get("by_difficulty", {}).items():
            row = {"benchmark": task, "difficulty": group, "n": g["samples"], "accuracy %": round(100 * g["accuracy"], 2),
                   "mean thinking": _fmt(g.get("mean_thinking_tokens"), 1), "mean total": _fmt(g.get("mean_total_tokens"), 1),
                   **overthinking_cells(g)}
            v = g.get("versus_baseline")
            if v and v.get("paired_samples"):
                row["Δacc pp [95% CI]"] = f"{v['accuracy_delta_pp']:+.1f} {_ci(v['accuracy_delta_ci'])}"
                row["token reduction % [95% CI]"] = _reduction(v, "token_reduction") if "token_reduction" in v else "–"
            rows.append(row)
    return rows


def make_figures(run: Run, baseline: Run | None, out: Path, summary: dict) -> list[tuple[str, Path]]:
    figures = []
    for task, samples in sorted(run.tasks.items()):
        s = summary[task]
        if "mean_total_tokens" not in s:
            continue
        points = [{"label": run.method, "tokens": s["mean_total_tokens"], "accuracy": s["accuracy"]}]
        base_tokens = None
        if baseline is not None and task in baseline.tasks and "baseline" in s and "mean_total_tokens" in s["baseline"]:
            points.append({"label": f"{baseline.method} (baseline)", "tokens": s["baseline"]["mean_total_tokens"], "accuracy": s["baseline"]["accuracy"]})
            base_tokens = [sample_tokens(x) for x in baseline.tasks[task]]
        name = safe_name(task)
        figures.append((f"{task}: accuracy vs tokens", plots.pareto(points, task, out / f"pareto_{name}.png")))
        figures.append((f"{task}: token lengths", plots.token_histogram(
            [sample_tokens(x) for x in samples], base_tokens, task, out / f"tokens_{name}.png",
            labels=(run.method, f"{baseline.method} (baseline)" if baseline else "baseline"))))
        traced = [x for x in samples if x.generations[0].probes][:TRACE_SAMPLES]
        if run.method in ENTROPY_METHODS and traced:
            traces = [{"label": x.sample_id[:24], "probes": x.generations[0].probes, "cut_position": x.generations[0].cut_position} for x in traced]
            figures.append((f"{task}: probe scores along thinking", plots.probe_entropies(traces, f"{task} — {run.method}", out / f"probes_{name}.png")))
    return figures


def _warnings(mismatches: dict[str, list[str]] | None) -> list[str]:
    found = sorted({text for texts in (mismatches or {}).values() for text in texts})
    return [f"compared with a baseline made differently (--allow-mismatch): {'; '.join(found)}"] if found else []


def _notes(run: Run, summary: dict) -> list[str]:
    notes = []
    if run.method == "stepentropy":
        notes.append("Note: post-hoc step-entropy pruning generates the full thinking first, then prunes it; it saves no compute at inference "
                     "(see “mean generated” and the generated-token reduction).")
    sources = {"this run's": {s for row in summary.values() for s in row["token_sources"]},
               "the baseline's": {s for row in summary.values() for s in row.get("baseline", {}).get("token_sources", [])}}
    if any(found - {"adapter"} for found in sources.values()):
        counted = "; ".join(f"{whose} by {', '.join(sorted(found))}" for whose, found in sources.items() if found)
        notes.append(f"Note: token counts: {counted} (a tokenizer count re-encodes the text a plain lm-eval model returned).")
    return notes


def _columns(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns


def render_markdown(run: Run, baseline: Run | None, rows: list[dict], meta: dict, figures, mismatches=None, notes=(), summary=None) -> str:
    lines = [f"# cotbench report: {run.adapter} on {run.model}", ""]
    if baseline is not None:
        lines += [f"Baseline: {baseline.adapter} ({baseline.path})", ""]
    lines += [f"**Warning:** {text}" for text in _warnings(mismatches)] + ([""] if mismatches and _warnings(mismatches) else [])
    table = [{key: row.get(key, "–") for key in _columns(rows)} for row in rows]
    lines += ["## Results", "", tabulate(table, headers="keys", tablefmt="github"), ""]
    lines += [note + "\n" for note in notes]
    levels = difficulty_rows(summary or {})
    if levels:
        lines += ["## By difficulty", "", tabulate([{key: row.get(key, "–") for key in _columns(levels)} for row in levels], headers="keys", tablefmt="github"), ""]
    lines += ["## Figures", ""] + [f"![{title}]({path.name})" for title, path in figures] + [""]
    lines += ["## Definitions", ""] + [f"- **{term}**: {definition}" for term, definition in DEFINITIONS] + [""]
    lines += ["## How this report was made", "", "```json", json.dumps(meta, indent=2, default=str), "```", ""]
    return "\n".join(lines)


def render_html(run: Run, baseline: Run | None, rows: list[dict], meta: dict, figures, mismatches=None, notes=(), summary=None) -> str:
    levels = difficulty_rows(summary or {})
    images = [{"title": title, "base64": base64.b64encode(path.read_bytes()).decode()} for title, path in figures]
    return render("report.html.j2", run=run, baseline=baseline, rows=rows, columns=_columns(rows), figures=images, warnings=_warnings(mismatches),
                  notes=notes, levels=levels, level_columns=_columns(levels), definitions=DEFINITIONS, meta_json=json.dumps(meta, indent=2, default=str))


def build_report(run_dir: str, baseline_dir: str | None, out_dir: str, allow_mismatch: bool = False) -> Path:
    run = load_run(run_dir)
    baseline = load_run(baseline_dir) if baseline_dir else None
    mismatches = check_comparable(run, baseline, allow_mismatch) if baseline is not None else None
    summary = run_summary(run, baseline)
    rows = table_rows(summary, mismatches if allow_mismatch else None)
    meta = {"run": provenance(run), "baseline": provenance(baseline) if baseline else None}
    with atomic_directory(out_dir) as staging:
        figures = make_figures(run, baseline, staging, summary)
        notes = _notes(run, summary)
        (staging / "report.md").write_text(render_markdown(run, baseline, rows, meta, figures, mismatches, notes, summary), encoding="utf-8")
        (staging / "report.html").write_text(render_html(run, baseline, rows, meta, figures, mismatches, notes, summary), encoding="utf-8")
        (staging / "report.json").write_text(json.dumps({"summary": summary, "provenance": meta}, indent=2, default=str), encoding="utf-8")
        with (staging / "report.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=_columns(rows), restval="–")
            writer.writeheader()
            writer.writerows(rows)
    return Path(out_dir)
