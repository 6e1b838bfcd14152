"""`cotbench report RUN_DIR [--baseline RUN_DIR] -o OUT`: Markdown, HTML, JSON and CSV.

The report states how it was made (model, adapter and its arguments, tasks, decoding,
versions, seeds) and shows accuracy and tokens per benchmark, the comparison with a baseline
run (token reduction, Δacc, EPR, Ce with paired-bootstrap CIs, McNemar p), and figures.
All text that came from models or users is HTML-escaped.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path

from tabulate import tabulate

import cotbench

from . import plots
from .atomic import atomic_directory, safe_name
from .metrics import run_summary, sample_tokens
from .runs import Run, check_comparable, load_run

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


def table_rows(summary: dict) -> list[dict]:
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
            "median total": _fmt(s.get("median_total_tokens"), 1),
            "truncated %": _fmt(100 * s["truncation_rate"], 1) if "truncation_rate" in s else "–",
            "tok/s": _fmt(s.get("tokens_per_s"), 1),
        })
        if "probe_entropy_auroc" in s:
            row["probe entropy AUROC"] = f"{s['probe_entropy_auroc']:.3f} (n={s['graded_probes']})"
        v = s.get("versus_baseline")
        if v and v.get("paired_samples"):
            row["baseline acc %"] = round(100 * s["baseline"]["accuracy"], 2)
            row["Δacc pp [95% CI]"] = f"{v['accuracy_delta_pp']:+.1f} {_ci(v['accuracy_delta_ci'])}"
            if "token_reduction" in v:
                row["token reduction % [95% CI]"] = f"{100 * v['token_reduction']:.1f} {_ci(v['token_reduction_ci'], 100)}"
                row["EPR"] = _fmt(v["epr"], 2) if v["epr"] is not None and v["epr_label"] == "ratio" else v["epr_label"]
                row["Ce"] = _fmt(v["ce"])
            row["paired test p"] = f"{_fmt(v['p_value'])} ({v['paired_test']})"
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


def render_markdown(run: Run, baseline: Run | None, rows: list[dict], meta: dict, figures) -> str:
    lines = [f"# cotbench report: {run.adapter} on {run.model}", ""]
    if baseline is not None:
        lines += [f"Baseline: {baseline.adapter} ({baseline.path})", ""]
    lines += ["## Results", "", tabulate(rows, headers="keys", tablefmt="github"), ""]
    if run.method == "stepentropy":
        lines += ["Note: post-hoc step-entropy pruning generates the full thinking first; it saves no compute at inference.", ""]
    lines += ["## Figures", ""] + [f"![{title}]({path.name})" for title, path in figures] + [""]
    lines += ["## How this report was made", "", "```json", json.dumps(meta, indent=2, default=str), "```", ""]
    lines += ["Definitions: accuracy = avg@k; token reduction = 1 − Σ method tokens / Σ baseline tokens over paired samples;",
              "EPR = token savings % / accuracy loss pp (labels when no loss); Ce = reduction × acc/acc_baseline (ours).", ""]
    return "\n".join(lines)


def render_html(run: Run, baseline: Run | None, rows: list[dict], meta: dict, figures) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(str(k))}</th>" for k in (rows[0] if rows else {}))
    body = "".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row.values()) + "</tr>" for row in rows)
    images = "".join(
        f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}">'
        f"<figcaption>{esc(title)}</figcaption></figure>"
        for title, path in figures
    )
    baseline_line = f"<p>Baseline: {esc(baseline.adapter)}</p>" if baseline else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cotbench report: {esc(run.adapter)} on {esc(run.model)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
figure{{display:inline-block;margin:1em}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head>
<body><h1>cotbench report: {esc(run.adapter)} on {esc(run.model)}</h1>{baseline_line}
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Figures</h2>{images}
<h2>How this report was made</h2><pre>{esc(json.dumps(meta, indent=2, default=str))}</pre>
</body></html>
"""


def build_report(run_dir: str, baseline_dir: str | None, out_dir: str) -> Path:
    run = load_run(run_dir)
    baseline = load_run(baseline_dir) if baseline_dir else None
    if baseline is not None:
        check_comparable(run, baseline)
    summary = run_summary(run, baseline)
    rows = table_rows(summary)
    meta = {"run": provenance(run), "baseline": provenance(baseline) if baseline else None}
    with atomic_directory(out_dir) as staging:
        figures = make_figures(run, baseline, staging, summary)
        (staging / "report.md").write_text(render_markdown(run, baseline, rows, meta, figures), encoding="utf-8")
        (staging / "report.html").write_text(render_html(run, baseline, rows, meta, figures), encoding="utf-8")
        (staging / "report.json").write_text(json.dumps({"summary": summary, "provenance": meta}, indent=2, default=str), encoding="utf-8")
        with (staging / "report.csv").open("w", newline="", encoding="utf-8") as handle:
            fields = sorted({k for row in rows for k in row}, key=lambda k: list(rows[0]).index(k) if k in rows[0] else 99)
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return Path(out_dir)
