"""Every adapter on the real SmolLM2: decision rules fire on a real model, tokens are accounted,
and probes that decide "continue" leave the greedy text byte-identical to vanilla."""

import re
from types import SimpleNamespace

import pytest

from cotbench.cot_methods.methods.budget import BudgetLM
from cotbench.cot_methods.methods.deer import DeerLM
from cotbench.cot_methods.methods.dynasor import DynasorLM
from cotbench.cot_methods.methods.eat import EatLM
from cotbench.cot_methods.methods.entrocut import EntroCutLM
from cotbench.cot_methods.methods.nowait import NOWAIT_KEYWORDS, NoWaitLM
from cotbench.cot_methods.methods.vanilla import VanillaLM
from cotbench.errors import CotbenchError

# Every test here runs the real SmolLM2-135M in-process (minutes on 2 cores): the slow lane.
pytestmark = pytest.mark.slow

QUESTIONS = [
    "Janet has 16 eggs. She eats 3 and bakes with 4. How many are left? Please reason step by step.",
    "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total?",
]
GEN = {"max_gen_toks": 48, "temperature": 0.0}
# SmolLM2 rarely says "Wait": common sentence starters make triggers fire on it.
COMMON_TRIGGERS = "The|So|We|To|First|Now|This|Let"


def generate(cls, questions=QUESTIONS, max_gen_toks=48, **args):
    lm = cls(pretrained="smollm2-135m", device="cpu", batch_size=2, **args)
    requests = [SimpleNamespace(args=(q, dict(GEN, max_gen_toks=max_gen_toks))) for q in questions]
    return lm, lm.generate_until(requests, disable_tqdm=True)


@pytest.fixture(scope="module")
def vanilla(smollm2_path):
    return generate(VanillaLM)[1]


def test_vanilla_accounts_every_token(vanilla):
    for out in vanilla:
        record = out.cotbench
        assert record.total_tokens == record.thinking_tokens + record.answer_tokens <= 48
        assert record.probe_tokens == 0 and record.probes == []


def test_entrocut_that_never_cuts_is_byte_identical_to_vanilla(vanilla):
    _, outs = generate(EntroCutLM, threshold=0.0, triggers=COMMON_TRIGGERS, min_thinking_tokens=0)
    assert [str(o) for o in outs] == [str(o) for o in vanilla]
    probes = [p for o in outs for p in o.cotbench.probes]
    assert probes and all(p["decision"] == "continue" and len(p["entropies"]) == 4 for p in probes)
    assert sum(o.cotbench.probe_tokens for o in outs) > 0


def test_entrocut_cuts_at_the_first_trigger_past_the_minimum(vanilla):
    lm, outs = generate(EntroCutLM, threshold=100.0, triggers=COMMON_TRIGGERS, min_thinking_tokens=5)
    for out in outs:
        record = out.cotbench
        assert record.closed_by == "method" and len(record.probes) == 1
        cut = record.cut_position
        assert cut >= 5 and record.thinking_tokens == cut
        assert record.probes[0]["score"] < 100.0
        assert "\n</think>\n\n" in str(out)
        assert record.adapter["method_args"]["threshold_used"] == 100.0


REFLECTIVE = ["Repeat exactly: 'Wait, but maybe we should check again. Hmm, however, now another way.'"]


def test_nowait_never_emits_a_reflection_word():
    def words(outs):
        return {w.lower() for o in outs for w in re.findall(r"[A-Za-z-]+", str(o))}

    _, plain = generate(VanillaLM, questions=REFLECTIVE, max_gen_toks=32)
    _, banned = generate(NoWaitLM, questions=REFLECTIVE, max_gen_toks=32)
    assert words(plain) & set(NOWAIT_KEYWORDS)  # not vacuous: asked to, the model says them
    assert not words(banned) & set(NOWAIT_KEYWORDS)


def test_budget_stops_thinking_at_exactly_b_tokens():
    _, outs = generate(BudgetLM, thinking_budget=10)
    for out in outs:
        assert out.cotbench.thinking_tokens == 10 and out.cotbench.cut_position == 10
        assert "\n</think>\n\nFinal Answer:" in str(out)


def test_deer_decisions_follow_the_confidence_threshold():
    _, outs = generate(DeerLM, triggers=COMMON_TRIGGERS, threshold=0.5, think_ratio=1.0, limit_margin=0)
    probes = [p for o in outs for p in o.cotbench.probes]
    assert probes
    for p in probes:
        assert (p["decision"] == "cut") == (p["score"] > 0.5)
        assert len(p["entropies"]) <= 20


def test_dynasor_probes_every_chunk():
    _, outs = generate(DynasorLM, chunk_size=8, consistency=2)
    for out in outs:
        positions = [p["position"] for p in out.cotbench.probes]
        assert positions and all(pos % 8 == 0 for pos in positions)
        if out.cotbench.closed_by == "method":
            assert out.cotbench.finish_reason == "final" and "\\boxed{" in str(out)


def test_eat_probes_after_steps_with_one_token_entropy():
    _, outs = generate(EatLM, max_gen_toks=128, min_steps=1, variance_threshold=10.0)
    probes = [p for o in outs for p in o.cotbench.probes]
    assert probes and all(len(p["entropies"]) == 1 for p in probes)
    assert any(o.cotbench.closed_by == "method" for o in outs)


@pytest.mark.parametrize("cls,args,message", [
    (EntroCutLM, {"threshold": -1}, "threshold=-1.0"),
    (EntroCutLM, {"aggregation": "median"}, "aggregation='median'"),
    (EntroCutLM, {"triggers": ""}, "triggers"),
    (DeerLM, {"confidence": "avg9"}, "confidence='avg9'"),
    (DynasorLM, {"effort": "extreme"}, "effort='extreme'"),
    (BudgetLM, {"thinking_budget": 0}, "thinking_budget=0"),
    (EatLM, {"ema_alpha": 2}, "ema_alpha=2.0"),
    (DeerLM, {"limit_rule": "soon"}, "limit_rule='soon'"),
    (DeerLM, {"confidence_probs": "mean"}, "confidence_probs='mean'"),
    (EatLM, {"stop_check": "late"}, "stop_check='late'"),
    (BudgetLM, {"close_newline": "never"}, "close_newline='never'"),
    (BudgetLM, {"answer_tokens": "all"}, "answer_tokens='all'"),
])
def test_bad_method_args_are_one_clear_error(cls, args, message):
    with pytest.raises(CotbenchError, match=re.escape(message)):
        cls(pretrained="smollm2-135m", device="cpu", **args)
