"""Many runs → leaderboard rows: one per (model, method, setting, benchmark), each compared
with a vanilla run of the same model and benchmark.

Which baseline, when several vanilla runs exist for one model and benchmark (the rule, in
order; deterministic whatever the order of the run folders on the command line):
1. one made alike (same task version, decoding settings and limit: `reports.runs.check_comparable`);
2. the one with the most samples on the benchmark;
3. the newest (lm-eval's `date` in the results file);
4. the smaller results path, as text.
Each row names the baseline it used and how many candidates there were. A method run with no
baseline made alike is refused (one line, exit 2) unless `allow_mismatch`, which compares it
with the baseline the rule picks and puts the differing settings in the row's `mismatch`.

`baseline=RUN_DIR` replaces the rule: every run is compared with that one run, as trained
checkpoints are with the model they were trained from (`cotbench testbed train`). There the
model differs by design, so that difference is shown in the row's `mismatch`, not refused; any
other difference (decoding, limit, task version) is refused unless `allow_mismatch`.
"""

from __future__ import annotations

from cotbench.errors import CotbenchError
from cotbench.reports.metrics import by_difficulty, summarize, versus_baseline
from cotbench.reports.runs import Run, load_run, setting_mismatches

BASELINE_METHOD = "vanilla"
BASELINE_RULE = "made alike, then most samples, then newest, then path"


def choose_baseline(run: Run, task: str, candidates: list[Run]) -> tuple[Run | None, list[str]]:
    """(the baseline for `run` on `task`, its mismatches with `run`) by the rule above."""
    pool = [c for c in candidates if c.model == run.model and task in c.tasks]
    if not pool:
        return None, []
    ranked = sorted(pool, key=lambda c: (bool(setting_mismatches(run, c, task)), -len(c.tasks[task]), -float(c.config.get("date") or 0), str(c.path)))
    return ranked[0], setting_mismatches(run, ranked[0], task)


def fixed_baseline(run: Run, task: str, baseline: Run, allow_mismatch: bool) -> tuple[Run | None, list[str]]:
    """(`baseline` for `run` on `task`, its mismatches): the model may differ (shown); another
    setting that differs is one error line unless `allow_mismatch`."""
    if task not in baseline.tasks:
        return None, []
    if baseline.path == run.path:
        return run, []
    mismatches = setting_mismatches(run, baseline, task)
    other = [m for m in mismatches if not m.startswith("model ")]
    if other and not allow_mismatch:
        raise CotbenchError(f"{run.path} on {task}: the baseline {baseline.path} was run differently: {'; '.join(other)} "
                            "(rerun it alike, or pass --allow-mismatch)")
    return baseline, mismatches


def leaderboard_rows(run_dirs: list[str], allow_mismatch: bool = False, baseline_dir: str | None = None) -> list[dict]:
    runs: list[Run] = [load_run(d) for d in run_dirs]
    if not runs:
        raise CotbenchError("no run directories given")
    vanilla = [r for r in runs if r.method == BASELINE_METHOD]
    fixed = load_run(baseline_dir) if baseline_dir else None
    if fixed is not None and all(r.path != fixed.path for r in runs):
        runs.append(fixed)
    rows = []
    for run in runs:
        for task, samples in sorted(run.tasks.items()):
            s = summarize(samples)
            row = {
                "model": run.model, "method": run.method, "setting": run.setting, "benchmark": task, "samples": s["samples"], "repeats": s["repeats"],
                "accuracy": s["accuracy"], "acc_closed": s.get("acc_closed"), "pass_at_k": s.get(f"pass@{s['repeats']}"), "maj_at_k": s.get(f"maj@{s['repeats']}"),
                "mean_total_tokens": s.get("mean_total_tokens"), "mean_thinking_tokens": s.get("mean_thinking_tokens"), "mean_generated_tokens": s.get("mean_generated_tokens"),
                "overthinking_share": s.get("overthinking_share"), "thinkbench_token_efficiency": s.get("thinkbench_token_efficiency"),
                "underthinking_score": s.get("underthinking_score"), "ockscore": s.get("ockscore"),
                "skip_output_share": s.get("skip_output_share"), "mean_skip_ratio": s.get("mean_skip_ratio"),
                "mean_redundancy_score": s.get("mean_redundancy_score"),
                "token_reduction": None, "token_reduction_ci": None, "thinking_token_reduction": None, "thinking_token_reduction_ci": None,
                "generated_token_reduction": None, "generated_token_reduction_ci": None, "accuracy_delta_pp": None, "accuracy_delta_ci": None,
                "relative_accuracy_delta_pct": None, "epr": None, "epr_label": "no baseline", "epr_relative": None,
                "epr_relative_label": None, "ce": None, "p_value": None, "paired_test": None, "baseline_run": None, "baseline_candidates": 0, "mismatch": None,
                "run": str(run.path),
            }
            if fixed is not None:
                base, mismatches = fixed_baseline(run, task, fixed, allow_mismatch)
                row["baseline_candidates"] = 1
            else:
                base, mismatches = choose_baseline(run, task, vanilla)
                row["baseline_candidates"] = sum(1 for c in vanilla if c.model == run.model and task in c.tasks)
            if base is run:
                row["epr_label"], row["baseline_run"] = "baseline", str(run.path)
            elif base is not None:
                if mismatches and not allow_mismatch and fixed is None:
                    raise CotbenchError(f"{run.path} on {task}: no {BASELINE_METHOD} run of {run.model!r} made alike; the nearest differs in "
                                        f"{'; '.join(mismatches)} (rerun the baseline alike, or pass --allow-mismatch)")
                row["baseline_run"], row["mismatch"] = str(base.path), "; ".join(mismatches) or None
                v = versus_baseline(samples, base.tasks[task])
                if v.get("paired_samples"):
                    row.update({k: v.get(k) for k in row if k in v})
            compared = base is not None and base is not run
            row["by_difficulty"] = difficulty_entries(by_difficulty(samples, base.tasks[task] if compared else None))
            rows.append(row)
    return rows


def difficulty_entries(groups: dict[str, dict]) -> list[dict]:
    """A row's per-difficulty breakdown (MATH-500 levels, AIME / AMC problem bands) as leaderboard.json keeps it."""
    entries = []
    for group, s in groups.items():
        v = s.get("versus_baseline") or {}
        entries.append({"difficulty": group, "samples": s["samples"], "accuracy": s["accuracy"], "mean_total_tokens": s.get("mean_total_tokens"),
                        "token_reduction": v.get("token_reduction"), "token_reduction_ci": v.get("token_reduction_ci"),
                        "accuracy_delta_pp": v.get("accuracy_delta_pp"), "accuracy_delta_ci": v.get("accuracy_delta_ci")})
    return entries
