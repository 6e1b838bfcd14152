"""`cotbench compare BASELINE NEW`: a regression gate for CI.

Per benchmark, paired by sample id: accuracy change with a one-sided paired test (is NEW
worse?) — exact McNemar with one generation per problem, a paired permutation test on the
per-problem accuracies when the runs have repeats — and the change in total tokens (each
record's `total_tokens`: thinking + answer, forced text included, probe tokens not; for step
entropy the pruned thought, not the full one it decoded), averaged over a sample's repeats and
summed over the paired samples. A benchmark regresses when the accuracy drop exceeds
--max-acc-drop points AND is significant at --alpha, or when total tokens grow by more than
--max-token-increase percent. Exit 0: within bounds; 1: a regression;
2: bad input, or runs made differently (model, task version, decoding settings, limit) —
which --allow-mismatch turns into a warning column.
"""

from __future__ import annotations

from tabulate import tabulate

from cotbench.errors import CotbenchError
from cotbench.reports.metrics import paired, paired_accuracy_test, sample_tokens
from cotbench.reports.runs import check_comparable, load_run


def compare_runs(baseline_dir: str, new_dir: str, max_acc_drop: float = 1.0, max_token_increase: float = 10.0, alpha: float = 0.05,
                 allow_mismatch: bool = False) -> tuple[list[dict], bool]:
    if max_acc_drop < 0 or max_token_increase < 0 or not 0 < alpha < 1:
        raise CotbenchError(f"bounds must be --max-acc-drop >= 0, --max-token-increase >= 0, 0 < --alpha < 1 (got {max_acc_drop}, {max_token_increase}, {alpha})")
    baseline, new = load_run(baseline_dir), load_run(new_dir)
    if set(baseline.tasks) != set(new.tasks):
        raise CotbenchError(f"the runs cover different tasks: baseline {sorted(baseline.tasks)}, new {sorted(new.tasks)}")
    mismatches = check_comparable(new, baseline, allow_mismatch)
    rows, regressed = [], False
    for task in sorted(baseline.tasks):
        m, b = paired(new.tasks[task], baseline.tasks[task])
        if not m:
            raise CotbenchError(f"{task}: no sample ids in common between the runs")
        acc_b = sum(s.accuracy for s in b) / len(b)
        acc_m = sum(s.accuracy for s in m) / len(m)
        drop = 100 * (acc_b - acc_m)
        test, p = paired_accuracy_test(m, b, alternative="greater")
        tok_b = [sample_tokens(s) for s in b]
        tok_m = [sample_tokens(s) for s in m]
        increase = None
        if all(t is not None for t in tok_b + tok_m) and sum(tok_b) > 0:
            increase = 100 * (sum(tok_m) / sum(tok_b) - 1)
        acc_fail = drop > max_acc_drop and p < alpha
        tok_fail = increase is not None and increase > max_token_increase
        status = "REGRESSION" if acc_fail or tok_fail else "ok"
        regressed |= acc_fail or tok_fail
        rows.append({
            "benchmark": task, "paired": len(m), "acc base %": round(100 * acc_b, 2), "acc new %": round(100 * acc_m, 2),
            "drop pp": round(drop, 2), "p (worse)": round(p, 4), "test": test,
            "token change %": "–" if increase is None else round(increase, 1), "status": status,
        })
        if allow_mismatch:
            rows[-1]["⚠ setting mismatch"] = "; ".join(mismatches[task]) or "–"
    return rows, regressed


def format_table(rows: list[dict]) -> str:
    return tabulate(rows, headers="keys", tablefmt="github")
