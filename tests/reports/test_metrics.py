"""Metric functions on hand-computed cases, including every EPR edge."""

import pytest

from cotbench.record import GenerationRecord
from cotbench.reports.metrics import (
    compression_effectiveness,
    efficiency_performance_ratio,
    summarize,
    versus_baseline,
)
from cotbench.reports.runs import Sample


def gen(correct, total, thinking=None, truncated=False, wall=None, rows=None, answer=None, closed=None, probes=()):
    thinking = total if thinking is None else thinking
    return GenerationRecord(correct=correct, thinking_tokens=thinking, answer_tokens=total - thinking, probe_tokens=0, total_tokens=total,
                            truncated=truncated, reason="correct" if correct else "mismatch", batch_wall_s=wall, batch_rows=rows,
                            extracted_answer=answer, thinking_closed=closed, probes=list(probes))


def sample(sid, *gens):
    return Sample(sid, list(gens))


class TestEPR:
    def test_ratio(self):
        epr = efficiency_performance_ratio(0.40, -2.0)  # 40 % savings for 2 pp lost
        assert epr.label == "ratio" and epr.value == pytest.approx(20.0)

    def test_lossless(self):
        assert efficiency_performance_ratio(0.3, 0.0).label == "lossless"

    def test_no_change(self):
        assert efficiency_performance_ratio(0.0, 0.0).label == "no change"

    def test_dominates(self):
        epr = efficiency_performance_ratio(0.3, +1.5)
        assert epr.label == "dominates" and epr.value is None

    def test_gain_with_more_tokens(self):
        assert efficiency_performance_ratio(-0.1, +1.0).label == "better accuracy, more tokens"

    def test_longer_and_worse(self):
        epr = efficiency_performance_ratio(-0.2, -4.0)
        assert epr.label == "no savings" and epr.value == pytest.approx(-5.0)

    def test_zero_baseline_accuracy_never_divides_by_zero(self):
        assert compression_effectiveness(0.5, 0.0, 0.0) is None
        assert efficiency_performance_ratio(0.5, 0.0).label == "lossless"


def test_ce_is_reduction_times_accuracy_kept():
    assert compression_effectiveness(0.4, 0.45, 0.5) == pytest.approx(0.36)
    assert compression_effectiveness(0.4, 0.6, 0.5) == pytest.approx(0.48)


def test_summary_avg_at_k_pass_at_k_tokens_truncation_and_speed():
    samples = [
        sample("a", gen(True, 100, truncated=False, wall=2.0, rows=2), gen(False, 300, truncated=True, wall=2.0, rows=2)),
        sample("b", gen(False, 200, wall=2.0, rows=2), gen(False, 200, wall=2.0, rows=2)),
    ]
    s = summarize(samples)
    assert s["accuracy"] == 0.25 and s["pass@2"] == 0.5
    assert s["mean_total_tokens"] == 200 and s["median_total_tokens"] == 200
    assert s["truncation_rate"] == 0.25
    assert s["wall_s"] == pytest.approx(4.0) and s["tokens_per_s"] == pytest.approx(200.0)


def test_versus_baseline_pairs_by_id_and_computes_reduction_epr():
    base = [sample("a", gen(True, 100)), sample("b", gen(True, 100)), sample("c", gen(False, 100)), sample("z", gen(True, 999))]
    new = [sample("c", gen(False, 50)), sample("b", gen(False, 50)), sample("a", gen(True, 50))]
    v = versus_baseline(new, base, bootstrap_iters=500)
    assert v["paired_samples"] == 3
    assert v["token_reduction"] == pytest.approx(0.5)
    assert v["accuracy_delta_pp"] == pytest.approx(-100 / 3)
    assert v["epr"] == pytest.approx(50 / (100 / 3)) and v["epr_label"] == "ratio"
    assert v["ce"] == pytest.approx(0.5 * (1 / 3) / (2 / 3))
    assert v["paired_test"] == "exact McNemar" and v["p_value"] == 1.0  # one pair lost, none gained
    low, high = v["token_reduction_ci"]
    assert low == high == pytest.approx(0.5)  # every pair halves its tokens: no uncertainty to report


def test_repeats_give_maj_at_k_beside_avg_and_pass():
    samples = [
        # majority "7" (2 of 3) is correct although only 2/3 of the generations are
        sample("a", gen(True, 10, answer="7"), gen(False, 10, answer="8"), gen(True, 10, answer="7")),
        # majority "5" is wrong; one generation is right: pass@3 counts it, maj@3 does not
        sample("b", gen(False, 10, answer="5"), gen(True, 10, answer="6"), gen(False, 10, answer=" 5 ")),
    ]
    s = summarize(samples)
    assert s["avg@3"] == s["accuracy"] == pytest.approx(0.5)
    assert s["pass@3"] == 1.0 and s["maj@3"] == 0.5


def test_acc_closed_counts_unclosed_thinking_as_wrong():
    samples = [sample("a", gen(True, 10, closed=True)), sample("b", gen(True, 10, closed=False)), sample("c", gen(False, 10, closed=True))]
    s = summarize(samples)
    assert s["accuracy"] == pytest.approx(2 / 3) and s["acc_closed"] == pytest.approx(1 / 3)
    assert "acc_closed" not in summarize([sample("a", gen(True, 10))])  # older records do not say: no made-up figure


def test_probe_entropy_auroc_in_the_summary():
    probes = [{"entropy": 0.1, "answer_correct": True}, {"entropy": 0.2, "answer_correct": True}, {"entropy": 0.9, "answer_correct": False},
              {"entropy": 0.15, "answer_correct": False}, {"score": 0.3}]  # the last one is ungraded: ignored
    s = summarize([sample("a", gen(True, 10, probes=probes))])
    # wrong answers' entropies (0.9, 0.15) against right ones (0.1, 0.2): 3 of 4 pairs ordered
    assert s["probe_entropy_auroc"] == pytest.approx(0.75) and s["graded_probes"] == 4
    assert "probe_entropy_auroc" not in summarize([sample("a", gen(True, 10))])


def test_versus_baseline_with_repeats_uses_the_repeats():
    # Baseline solves each problem 4/4, the method 3/4: rounding avg@4 at 0.5 would call them
    # identical (McNemar p = 1); the per-problem paired test sees 12 problems all worse.
    base = [sample(str(i), *[gen(True, 100)] * 4) for i in range(12)]
    new = [sample(str(i), *[gen(True, 50)] * 3, gen(False, 50)) for i in range(12)]
    v = versus_baseline(new, base)
    assert v["paired_test"].startswith("paired permutation")
    assert v["p_value"] == pytest.approx(2 / 2**12)  # exact: only the all-worse and all-better sign patterns are as extreme
    single = versus_baseline([sample(str(i), gen(i % 2 == 0, 50)) for i in range(12)], [sample(str(i), gen(True, 100)) for i in range(12)])
    assert single["paired_test"] == "exact McNemar" and single["p_value"] == pytest.approx(2 / 2**6)


def test_thinking_and_generated_token_reductions_beside_total():
    # A post-hoc pruner: keeps 40 of 100 thinking tokens but generated all 100 (+10 answer tokens).
    def pruned(correct):
        record = gen(correct, 50, thinking=40)
        record.method_fields["generated_tokens"] = 110
        return record
    base = [sample(str(i), gen(True, 110, thinking=100)) for i in range(4)]
    new = [sample(str(i), pruned(True)) for i in range(4)]
    v = versus_baseline(new, base)
    assert v["token_reduction"] == pytest.approx(1 - 50 / 110)
    assert v["thinking_token_reduction"] == pytest.approx(0.6)
    assert v["generated_token_reduction"] == pytest.approx(0.0)  # no compute saved
    assert summarize(new)["mean_generated_tokens"] == 110
    assert "generated_token_reduction" not in versus_baseline(base, base)  # only where records carry it


def test_epr_absolute_and_relative_accuracy_loss():
    base = [sample(str(i), gen(i < 5, 100)) for i in range(10)]  # 50 %
    new = [sample(str(i), gen(i < 4, 60)) for i in range(10)]  # 40 %, 40 % fewer tokens
    v = versus_baseline(new, base)
    assert v["accuracy_delta_pp"] == pytest.approx(-10.0) and v["relative_accuracy_delta_pct"] == pytest.approx(-20.0)
    assert v["epr"] == pytest.approx(40 / 10) and v["epr_relative"] == pytest.approx(40 / 20)
    assert v["epr_relative_label"] == "ratio"


def test_trained_seeds_views_skip_rate_and_redundancy_from_the_records():
    def record(**fields):
        return GenerationRecord(correct=True, total_tokens=10, thinking_tokens=5, method_fields=fields)

    skip = summarize([Sample("a", [record(skip_steps=3, skip_ratio=0.75)]), Sample("b", [record(skip_steps=0, skip_ratio=0.0)])])
    assert skip["skip_output_share"] == 0.5 and skip["mean_skip_ratio"] == 0.375 and "mean_redundancy_score" not in skip
    entra = summarize([Sample("a", [record(redundancy_score=0.6)]), Sample("b", [record(redundancy_score=0.8)])])
    assert entra["mean_redundancy_score"] == pytest.approx(0.7) and "skip_output_share" not in entra
    partial = summarize([Sample("a", [record(redundancy_score=0.6)]), Sample("b", [record()])])
    assert "mean_redundancy_score" not in partial  # a mean over some records would be a silent wrong number
