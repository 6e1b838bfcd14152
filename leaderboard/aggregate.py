"""Many runs → leaderboard rows: one per (model, method, benchmark), each compared with the
vanilla run of the same model when there is one."""

from __future__ import annotations

from cotbench.errors import CotbenchError
from cotbench.reports.metrics import summarize, versus_baseline
from cotbench.reports.runs import Run, load_run

BASELINE_METHOD = "vanilla"


def leaderboard_rows(run_dirs: list[str]) -> list[dict]:
    runs: list[Run] = [load_run(d) for d in run_dirs]
    if not runs:
        raise CotbenchError("no run directories given")
    baselines = {r.model: r for r in runs if r.method == BASELINE_METHOD}
    rows = []
    for run in runs:
        base = baselines.get(run.model)
        for task, samples in sorted(run.tasks.items()):
            s = summarize(samples)
            row = {
                "model": run.model, "method": run.method, "setting": run.setting, "benchmark": task, "samples": s["samples"],
                "accuracy": s["accuracy"], "mean_total_tokens": s.get("mean_total_tokens"),
                "mean_thinking_tokens": s.get("mean_thinking_tokens"),
                "token_reduction": None, "token_reduction_ci": None, "accuracy_delta_pp": None,
                "accuracy_delta_ci": None, "epr": None, "epr_label": "baseline" if run is base else "no baseline",
            }
            if base is not None and run is not base and task in base.tasks:
                v = versus_baseline(samples, base.tasks[task])
                if v.get("paired_samples"):
                    row.update({k: v.get(k) for k in ("token_reduction", "token_reduction_ci", "accuracy_delta_pp", "accuracy_delta_ci", "epr", "epr_label")})
            rows.append(row)
    return rows
