"""Efficiency metrics: per run and benchmark, and paired against a baseline run.

Three layers (lighteval's lesson): per-sample values come from the sample records
(`reports.runs`), corpus aggregation here, statistics (scipy's paired BCa bootstrap, exact
McNemar, paired permutation test, maj@k, AUROC) in `reports.statistics`.

Definitions (ours where the papers give none; see the README "Metrics" section):
- accuracy = avg@k: mean over samples of the fraction of the k generations that are correct.
  With k > 1 repeats, pass@k (unbiased, Chen et al. 2021) and maj@k (cons@k: the majority
  extracted answer; ties to the answer seen first) are reported beside it.
- acc_closed: accuracy where a generation whose thinking never closed counts as wrong (lm-eval
  issue #3382: a truncated trace that happens to contain a box is not a solved problem).
- paired test against a baseline: exact McNemar when both runs have one generation per
  problem; with repeats, a paired permutation test on the per-problem accuracies (the
  repeats are used, not rounded away at 0.5).
- probe_entropy_auroc: when probes carry `entropy` and `answer_correct`, how well low probe
  entropy predicts a correct probe answer (0.5 = chance).
- token reduction R = 1 - mean(total tokens, method) / mean(total tokens, baseline), paired by
  sample id over the samples both runs have; the thinking-token reduction likewise on thinking
  tokens only (the metric of the step-entropy paper, arXiv 2508.03346, and of most CoT-
  compression papers), shown beside it.
- generated tokens: post-hoc step-entropy pruning generates the full trace and then prunes it,
  so its thinking tokens understate the compute; records carry `generated_tokens` and the
  generated-token reduction is reported beside the others (≈ 0 or negative: no compute saved).
- Δacc = acc(method) - acc(baseline), in percentage points.
- EPR — cotbench's formula (EntroCut, arXiv 2601.22617, names "relative token savings per
  unit accuracy loss" and publishes no formula) = (100·R) / (accuracy loss in pp). Whether
  EntroCut divides by the absolute or the relative loss is not public, so both are reported:
  EPR_rel = (100·R) / (100·(acc_b − acc_m)/acc_b), the loss relative to the baseline accuracy. Edges: loss = 0 → "lossless"
  (R > 0) or "no change"; loss < 0 → "dominates" (saves tokens and gains accuracy) or
  "better accuracy, more tokens"; never a division by zero. Baseline accuracy 0 makes any
  loss impossible, so EPR is one of the labels above.
- Ce — cotbench's formula (ENTRA, arXiv 2601.07123, names "compression effectiveness"
  without a formula we could see): Ce = R · acc(method) / acc(baseline) — the token reduction weighted by the share
  of baseline accuracy kept (> R when accuracy improves); undefined when baseline accuracy is 0.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass

import numpy as np

from .runs import Run, Sample
from .statistics import BOOTSTRAP_RESAMPLES, majority_vote, mcnemar_exact, mcnemar_one_sided_worse, paired_bootstrap, paired_permutation_p, pass_at_k, probe_auroc

TOKEN_KINDS = ("thinking_tokens", "answer_tokens", "probe_tokens", "total_tokens", "generated_tokens")


def generation_tokens(generation, kind: str) -> int | None:
    """A token count of one generation; `generated_tokens` (step entropy's full trace before
    pruning) lives among the method fields."""
    if kind == "generated_tokens":
        return generation.method_fields.get("generated_tokens")
    return getattr(generation, kind)


def sample_tokens(sample: Sample, kind: str = "total_tokens") -> float | None:
    values = [generation_tokens(g, kind) for g in sample.generations]
    if any(v is None for v in values):
        return None
    return sum(values) / len(values)


def summarize(samples: list[Sample]) -> dict:
    """Per-benchmark summary of one run."""
    n = len(samples)
    k = min(len(s.generations) for s in samples) if samples else 0
    out: dict = {"samples": n, "repeats": k, "accuracy": sum(s.accuracy for s in samples) / n if n else 0.0}
    if k > 1:
        out[f"avg@{k}"] = out["accuracy"]
        out[f"pass@{k}"] = statistics.fmean(pass_at_k(len(s.generations), sum(g.correct for g in s.generations), k) for s in samples)
        out[f"maj@{k}"] = statistics.fmean(majority_vote([g.extracted_answer for g in s.generations], [bool(g.correct) for g in s.generations]) for s in samples)
    closed = [sample_accuracy_closed(s) for s in samples]
    if samples and all(c is not None for c in closed):
        out["acc_closed"] = statistics.fmean(closed)
    probes = [p for s in samples for g in s.generations for p in g.probes if _graded_probe(p)]
    auroc = probe_auroc([p["entropy"] for p in probes], [bool(p["answer_correct"]) for p in probes]) if probes else None
    if auroc is not None:
        out["probe_entropy_auroc"], out["graded_probes"] = auroc, len(probes)
    for kind in TOKEN_KINDS:
        values = [sample_tokens(s, kind) for s in samples]
        if values and all(v is not None for v in values):
            out[f"mean_{kind}"] = statistics.fmean(values)
            out[f"median_{kind}"] = statistics.median(values)
    generations = [g for s in samples for g in s.generations]
    if generations and all(g.truncated is not None for g in generations):
        out["truncation_rate"] = sum(bool(g.truncated) for g in generations) / len(generations)
    failed = sum(g.finish_reason == "error" for g in generations)
    if failed:  # requests that failed for good (issue 29): counted wrong in accuracy, and said
        out["failed_generations"] = failed
    timed = [g for g in generations if g.batch_wall_s and g.batch_rows and g.total_tokens is not None]
    if timed and len(timed) == len(generations):
        # Each generation's share of its batch's wall time.
        wall = sum(g.batch_wall_s / g.batch_rows for g in timed)
        out["wall_s"] = wall
        out["tokens_per_s"] = sum(g.total_tokens for g in timed) / wall if wall else None
    out.update(overthinking_views(generations))
    out.update(trained_method_views(generations))
    if "mean_total_tokens" in out:
        out["ockscore"] = ockscore(out["accuracy"], out["mean_total_tokens"])
    out["token_sources"] = sorted({token_source(g) for g in generations})
    out["probes_per_sample"] = statistics.fmean(len(g.probes) for g in generations) if generations else 0.0
    out["cut_rate"] = statistics.fmean(g.cut_position is not None for g in generations) if generations else 0.0
    return out


def overthinking_views(generations) -> dict:
    """Overthinking and underthinking from each generation's first correct step (math tasks; {}
    for others). Per generation, T̂/T = the share of the thinking up to the first step that states
    the right answer (harness_tasks/overthinking.py).
    - overthinking_share: mean 1 − T̂/T over correct generations whose thinking stated the answer;
      tokens_to_first_correct: their mean T̂ in thinking tokens.
    - thinkbench_token_efficiency (EvalScope ThinkBench, docs/en/best_practice/think_eval.md):
      M = mean over generations of T̂/T, 0 when the final answer is wrong. A correct generation
      whose thinking never states the answer counts 1 (ours: ThinkBench's judge reads the whole
      response; our steps are the thinking's).
    - underthinking_score (Wang et al. 2025, arXiv 2501.18585, §2.3; ThinkBench cites it):
      ξ_UT = mean over wrong generations of 1 − T̂/T, where T̂ ends at the first correct thought;
      a wrong generation that never stated the right answer counts 0 (ours: the paper's T̂ needs a
      correct thought). T is thinking tokens here, total tokens in the paper."""
    graded = [g for g in generations if g.thinking_steps is not None]
    if not graded:
        return {}
    solved = [g for g in graded if g.correct and g.overthinking_share is not None]
    wrong = [g for g in graded if not g.correct]
    tokens = [g.first_correct_tokens for g in solved if g.first_correct_tokens is not None]
    return {
        "overthinking_share": statistics.fmean(g.overthinking_share for g in solved) if solved else None,
        "tokens_to_first_correct": statistics.fmean(tokens) if tokens else None,
        "thinkbench_token_efficiency": statistics.fmean(
            (1.0 - (g.overthinking_share or 0.0)) if g.correct else 0.0 for g in graded),
        "underthinking_score": statistics.fmean(g.overthinking_share or 0.0 for g in wrong) if wrong else None,
    }


def trained_method_views(generations) -> dict:
    """What the trained seeds change besides length, from the method fields their adapters record
    ({} when a run's records lack them):
    - skip_output_share: the share of generations that write at least one [SKIP], and
      mean_skip_ratio: [SKIP] / ("\\n\\n" + [SKIP]) in the thinking, the official GRPO reward's
      ratio (cotbench-skip; arXiv 2508.03346);
    - mean_redundancy_score: ENTRA's normalised entropy of the low-importance tokens (arXiv
      2601.07123; cotbench-entra with analysis=true): lower = more redundant."""
    out = {}
    fields = [g.method_fields for g in generations]
    if fields and all(isinstance(f.get("skip_steps"), int) for f in fields):
        out["skip_output_share"] = statistics.fmean(f["skip_steps"] > 0 for f in fields)
        out["mean_skip_ratio"] = statistics.fmean(f["skip_ratio"] for f in fields)
    if fields and all(isinstance(f.get("redundancy_score"), (int, float)) for f in fields):
        out["mean_redundancy_score"] = statistics.fmean(f["redundancy_score"] for f in fields)
    return out


# OckScore's constants (OckBench/OckBench @ b72752a, src/core/scoring.py: "changing either breaks the
# published metric"); the log is natural there.
OCKSCORE_TOKEN_WEIGHT = 10
OCKSCORE_TOKEN_SCALE = 10_000


def ockscore(accuracy: float, mean_tokens: float) -> float:
    """OckBench's OckScore = accuracy % − 10 · ln(mean tokens / 10,000 + 1) (arXiv 2511.05722; the
    formula of its official code, whose +1 the project page omits). OckBench's mean counts prompt +
    output tokens per problem; ours counts the generated tokens (thinking + answer): cotbench does not
    record prompt lengths, and a prompt is the same for every method compared."""
    return 100.0 * accuracy - OCKSCORE_TOKEN_WEIGHT * math.log(mean_tokens / OCKSCORE_TOKEN_SCALE + 1)


def token_source(generation) -> str:
    """Who counted a generation's tokens: "adapter", "tokenizer <name>" (a plain lm-eval model's
    text re-encoded) or "not counted"; records written before the field existed are the adapter's."""
    return generation.token_source or ("adapter" if generation.adapter else "not counted")


def sample_accuracy_closed(sample: Sample) -> float | None:
    """The fraction of a sample's generations that are correct *and* closed their thinking;
    None when a record does not say whether thinking closed (written before the field existed)."""
    if any(g.thinking_closed is None for g in sample.generations):
        return None
    return sum(bool(g.correct) and bool(g.thinking_closed) for g in sample.generations) / len(sample.generations)


def _graded_probe(probe: dict) -> bool:
    return isinstance(probe, dict) and isinstance(probe.get("entropy"), (int, float)) and isinstance(probe.get("answer_correct"), bool)


@dataclass(frozen=True)
class EPR:
    value: float | None  # None when a label applies
    label: str  # "ratio" | "lossless" | "dominates" | "no change" | "better accuracy, more tokens" | "no savings"

    def __str__(self) -> str:
        return f"{self.value:.2f}" if self.value is not None else self.label


def efficiency_performance_ratio(token_reduction: float, accuracy_delta_pp: float) -> EPR:
    """EPR (cotbench's formula) = token savings in % per point of accuracy lost (edges labelled).
    Pass the absolute change in pp for EPR, the relative change in % for EPR_rel."""
    savings_pct = 100.0 * token_reduction
    loss_pp = -accuracy_delta_pp
    if abs(loss_pp) < 1e-12:
        return EPR(None, "lossless" if savings_pct > 0 else "no change")
    if loss_pp < 0:
        return EPR(None, "dominates" if savings_pct > 0 else "better accuracy, more tokens")
    if savings_pct <= 0:
        return EPR(savings_pct / loss_pp, "no savings")
    return EPR(savings_pct / loss_pp, "ratio")


def compression_effectiveness(token_reduction: float, accuracy_method: float, accuracy_baseline: float) -> float | None:
    """Ce (ours): R · acc_method / acc_baseline; None when the baseline accuracy is 0."""
    if accuracy_baseline <= 0:
        return None
    return token_reduction * accuracy_method / accuracy_baseline


def paired(method: list[Sample], baseline: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """The samples both runs have, aligned by sample id."""
    by_id = {s.sample_id: s for s in baseline}
    common = [s for s in method if s.sample_id in by_id]
    return common, [by_id[s.sample_id] for s in common]


def paired_accuracy_test(method: list[Sample], baseline: list[Sample], alternative: str = "two-sided", seed: int = 0) -> tuple[str, float]:
    """(test name, p-value) for paired samples: exact McNemar with one generation per problem,
    the paired permutation test on per-problem accuracies with repeats. `alternative="greater"`
    asks whether the method is worse."""
    m_acc, b_acc = [s.accuracy for s in method], [s.accuracy for s in baseline]
    if all(len(s.generations) == 1 for s in method + baseline):
        test = mcnemar_exact if alternative == "two-sided" else mcnemar_one_sided_worse
        return "exact McNemar", test([x > 0.5 for x in b_acc], [x > 0.5 for x in m_acc])
    return "paired permutation (per-problem avg@k)", paired_permutation_p(b_acc, m_acc, alternative, seed)


def versus_baseline(method: list[Sample], baseline: list[Sample], bootstrap_iters: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> dict:
    """Token reduction, Δacc, EPR and Ce against the baseline, with paired BCa-bootstrap 95 % CIs
    and the paired test's p-value."""
    m, b = paired(method, baseline)
    if not m:
        return {"paired_samples": 0}
    m_acc = [s.accuracy for s in m]
    b_acc = [s.accuracy for s in b]
    out: dict = {"paired_samples": len(m)}
    acc_m, acc_b = statistics.fmean(m_acc), statistics.fmean(b_acc)
    out["accuracy_delta_pp"] = 100.0 * (acc_m - acc_b)
    out["relative_accuracy_delta_pct"] = 100.0 * (acc_m - acc_b) / acc_b if acc_b > 0 else None
    out["accuracy_delta_ci"] = paired_bootstrap(_accuracy_delta_pp, (m_acc, b_acc), bootstrap_iters, seed)
    out["paired_test"], out["p_value"] = paired_accuracy_test(m, b, seed=seed)
    for kind, key in (("total_tokens", "token_reduction"), ("thinking_tokens", "thinking_token_reduction"), ("generated_tokens", "generated_token_reduction")):
        m_tok = [sample_tokens(s, kind) for s in m]
        # The baseline generates what it keeps: its generated tokens are its total tokens.
        b_tok = [sample_tokens(s, "total_tokens" if kind == "generated_tokens" else kind) for s in b]
        if all(t is not None for t in m_tok + b_tok) and sum(b_tok) > 0:
            out[key] = 1.0 - sum(m_tok) / sum(b_tok)
            out[f"{key}_ci"] = paired_bootstrap(_token_reduction, (m_tok, b_tok), bootstrap_iters, seed)
    if "token_reduction" in out:
        reduction = out["token_reduction"]
        epr = efficiency_performance_ratio(reduction, out["accuracy_delta_pp"])
        out["epr"], out["epr_label"] = epr.value, epr.label
        if out["relative_accuracy_delta_pct"] is not None:
            epr_rel = efficiency_performance_ratio(reduction, out["relative_accuracy_delta_pct"])
            out["epr_relative"], out["epr_relative_label"] = epr_rel.value, epr_rel.label
        out["ce"] = compression_effectiveness(reduction, acc_m, acc_b)
    return out


def _accuracy_delta_pp(method_acc, baseline_acc, axis=-1):
    return 100.0 * (np.mean(method_acc, axis=axis) - np.mean(baseline_acc, axis=axis))


def _token_reduction(method_tokens, baseline_tokens, axis=-1):
    return 1.0 - np.sum(method_tokens, axis=axis) / np.maximum(np.sum(baseline_tokens, axis=axis), 1e-12)


def by_difficulty(samples: list[Sample], baseline: list[Sample] | None = None) -> dict[str, dict]:
    """{difficulty group: summary (+ comparison with the baseline's samples of that group)}, in
    order of difficulty; {} when the samples record none (every benchmark but MATH-500, AIME, AMC)."""
    groups = sorted({s.difficulty for s in samples if s.difficulty}, key=lambda label: int(re.search(r"\d+", label)[0]))
    out = {}
    for group in groups:
        subset = [s for s in samples if s.difficulty == group]
        out[group] = summarize(subset)
        if baseline is not None:
            out[group]["versus_baseline"] = versus_baseline(subset, [s for s in baseline if s.difficulty == group])
    return out


def run_summary(run: Run, baseline: Run | None = None) -> dict[str, dict]:
    """{task: summary (+ comparison when a baseline run is given, + the same by difficulty)}."""
    out = {}
    for task, samples in run.tasks.items():
        row = summarize(samples)
        base = baseline.tasks.get(task) if baseline is not None else None
        if base is not None:
            row["baseline"] = summarize(base)
            row["versus_baseline"] = versus_baseline(samples, base)
        levels = by_difficulty(samples, base)
        if levels:
            row["by_difficulty"] = levels
        out[task] = row
    return out
