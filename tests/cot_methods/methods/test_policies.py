"""Each method's decision rule on controlled inputs: cuts exactly when its rule says."""

import math

import pytest

from cotbench.cot_methods.methods.budget import BudgetPolicy
from cotbench.cot_methods.methods.deer import DeerArgs, DeerPolicy, answer_confidence
from cotbench.cot_methods.methods.dynasor import DynasorPolicy, answer_from_probe, is_certain
from cotbench.cot_methods.methods.eat import EatArgs, EatPolicy, ema_update
from cotbench.cot_methods.methods.entrocut import EntroCutArgs, EntroCutPolicy, threshold_for
from cotbench.cot_methods.policy import CloseThinking, Feed, Probe, ProbeResult, RowView

WAIT = 7


def view(thinking=300, probes=0, state=None, tail="", max_new=1000, last=None):
    return RowView(thinking_tokens=thinking, last_token_id=last, token_text="", probes_done=probes,
                   max_new_tokens=max_new, state={} if state is None else state, tail_text=lambda: tail)


def probe(entropies=(0.1,), max_probs=(0.9,), ids=(1,), text=""):
    return ProbeResult(list(entropies), list(max_probs), list(ids), text)


class TestEntroCut:
    def policy(self, **kw):
        args = EntroCutArgs(**kw)
        return EntroCutPolicy(args, frozenset({WAIT}), [1, 2], 0.15 if args.threshold is None else args.threshold)

    def test_probes_only_at_triggers_after_min_thinking(self):
        p = self.policy(min_thinking_tokens=256)
        assert isinstance(p.on_token(view(thinking=300), WAIT), Probe)
        assert isinstance(p.on_token(view(thinking=300), WAIT + 1), Feed)
        assert isinstance(p.on_token(view(thinking=255), WAIT), Feed)

    @pytest.mark.parametrize("aggregation,entropies,cut", [
        ("mean", (0.1, 0.1, 0.2, 0.1), True),    # mean 0.125 < 0.15
        ("mean", (0.1, 0.1, 0.4, 0.1), False),   # mean 0.175
        ("max", (0.1, 0.1, 0.16, 0.1), False),   # max 0.16
        ("first", (0.149, 3.0), True),
    ])
    def test_aggregation_against_tau(self, aggregation, entropies, cut):
        decision = self.policy(aggregation=aggregation).on_probe(view(), probe(entropies=entropies))
        assert decision.cut is cut

    def test_threshold_equal_to_score_continues(self):
        assert self.policy(threshold=0.2).on_probe(view(), probe(entropies=(0.2,))).cut is False

    def test_max_probes(self):
        assert isinstance(self.policy(max_probes=2).on_token(view(probes=2), WAIT), Feed)

    def test_per_model_thresholds(self):
        assert threshold_for("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B") == (0.15, True)
        assert threshold_for("/models/DeepSeek-R1-Distill-Qwen-7B") == (0.225, True)
        assert threshold_for("smollm2-135m") == (0.15, False)


class TestDeer:
    def test_confidence_skips_brace_tokens(self):
        assert answer_confidence([0.1, 0.9, 0.99, 0.2], ["{", "4", "2", "}"], "avg1") == pytest.approx(0.945)
        assert answer_confidence([0.1, 0.81, 1.0], ["{", "4", "2"], "avg2") == pytest.approx(0.9)
        assert answer_confidence([0.5, 0.7, 0.6], ["1", "2", "3"], "min") == 0.5

    def test_exits_above_threshold_and_limits(self):
        p = DeerPolicy(DeerArgs(), frozenset({WAIT}), [1], str)
        p.decode_token = lambda t: {0: "{", 1: "4", 2: "}"}[t]
        assert p.on_probe(view(), probe(max_probs=(0.2, 0.96, 0.5), ids=(0, 1, 2))).cut is True
        assert p.on_probe(view(), probe(max_probs=(0.2, 0.94, 0.5), ids=(0, 1, 2))).cut is False
        assert isinstance(p.on_token(view(thinking=100, probes=10), WAIT), Feed)  # max 10 probes
        assert isinstance(p.on_token(view(thinking=100, probes=9), WAIT), Probe)
        assert isinstance(p.on_token(view(thinking=550, max_new=1000), 3), CloseThinking)  # 0.6*1000-50


class TestDynasor:
    def test_answer_extraction_and_certainty(self):
        assert answer_from_probe("\\frac{1}{2}} done") == "\\frac{1}{2}"
        assert answer_from_probe("12") == ""
        assert not is_certain("12} wait, no") and is_certain("12}")

    def test_probes_every_chunk_and_exits_on_k_consistent_certain_answers(self):
        p = DynasorPolicy(consistency=3, chunk_size=32, probe_ids=[1], probe_tokens=20, think_end="</think>")
        state = {}
        assert isinstance(p.on_token(view(thinking=64, state=state), 5), Probe)
        assert isinstance(p.on_token(view(thinking=64, state=state), 5), Feed)  # once per position
        assert isinstance(p.on_token(view(thinking=65, state=state), 5), Feed)
        decisions = [p.on_probe(view(state=state), probe(text=t)).cut for t in ["7}", "7}", "8}", "8} hmm", "8}", "8}", "8}"]]
        assert decisions == [False, False, False, False, False, False, True]
        final = p.on_probe(view(state=state), probe(text="8}")).final_text
        assert final.endswith("\\boxed{8}\n\\]") and "</think>" in final


class TestEat:
    def test_ema_matches_the_official_recurrence(self):
        state, xs, alpha = {}, [1.0, 2.0, 2.0, 2.0], 0.5
        variances = [ema_update(state, x, alpha) for x in xs]
        m, v = 1.0, 0.0
        expected = [0.0]
        for x in xs[1:]:
            m = alpha * x + (1 - alpha) * m
            v = alpha * (x - m) ** 2 + (1 - alpha) * v
            expected.append(v)
        assert variances == pytest.approx(expected)

    def test_probes_after_a_step_and_cuts_when_settled(self):
        p = EatPolicy(EatArgs(ema_alpha=0.5, variance_threshold=1e-3, min_steps=2), [1])
        assert isinstance(p.on_token(view(tail="step one.\n\n"), 5), Probe)
        assert isinstance(p.on_token(view(tail="step one.\n"), 5), Feed)
        state = {}
        cuts = [p.on_probe(view(state=state), probe(entropies=(1.0,))).cut for _ in range(4)]
        assert cuts == [False, False, True, True]  # constant entropy: variance 0 after warm-up
        assert p.min_steps == 2 and EatPolicy(EatArgs(ema_alpha=0.2), [1]).min_steps == math.ceil(4 / 0.2)


def test_budget_closes_at_the_budget_with_final_answer_prefix():
    p = BudgetPolicy(16, "Final Answer:")
    assert isinstance(p.on_token(view(thinking=15), 1), Feed)
    action = p.on_token(view(thinking=16), 1)
    assert isinstance(action, CloseThinking) and action.answer_prefix == "Final Answer:"
