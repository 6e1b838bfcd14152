"""`protocol=paper`: every adapter resolves to its method's published decoding, budget and
constants; the record says which protocol ran; explicit model_args still win."""

from types import SimpleNamespace

import pytest

from cotbench.cot_methods.adapter.args import unescape
from cotbench.cot_methods.methods.budget import BudgetLM
from cotbench.cot_methods.methods.deer import DeerLM
from cotbench.cot_methods.methods.dynasor import DynasorLM
from cotbench.cot_methods.methods.eat import EatLM
from cotbench.cot_methods.methods.entra import EntraLM
from cotbench.cot_methods.methods.entrocut import EntroCutLM
from cotbench.cot_methods.methods.nowait import NOWAIT_KEYWORDS, NoWaitLM
from cotbench.cot_methods.methods.skip import SkipLM
from cotbench.cot_methods.methods.stepentropy import StepEntropyLM
from cotbench.cot_methods.methods.vanilla import VanillaLM
from cotbench.errors import CotbenchError

GREEDY = {"temperature": 0.0, "do_sample": False}


def paper(cls, **model_args):
    return cls.resolve_arguments({"protocol": "paper", **model_args})


def test_deer_paper_is_greedy_16000_tokens_think_ratio_06():
    name, protocol, engine, args = paper(DeerLM)
    assert name == "paper" and protocol.decoding == {**GREEDY, "max_gen_toks": 16000}
    assert args.think_ratio == 0.6 and args.threshold == 0.95 and args.confidence == "avg1" and args.max_probes == 10
    assert unescape(engine.close_text) == "\n</think>\n\n"


def test_s1_paper_is_greedy_and_closes_with_final_answer_without_a_blank_line():
    _, protocol, engine, args = paper(BudgetLM)
    assert protocol.decoding == GREEDY
    assert unescape(engine.close_text) + args.answer_prefix == "\n</think>\nFinal Answer:"
    _, _, default_engine, default_args = BudgetLM.resolve_arguments({})
    assert unescape(default_engine.close_text) + default_args.answer_prefix == "\n</think>\n\nFinal Answer:"


def test_dynasor_paper_samples_probes_compares_by_math_and_probes_from_zero():
    _, protocol, _, args = paper(DynasorLM)
    assert (args.probe_temperature, args.probe_top_p, args.compare, args.probe_at_start) == (0.6, 0.95, "math", True)
    assert protocol.decoding["temperature"] == 0.6 and protocol.decoding["top_p"] == 0.95


def test_eat_paper_reads_bits_on_scaled_scores_in_place_of_the_separator():
    _, _, engine, args = paper(EatLM)
    assert engine.entropy_unit == "bits"
    assert args.replace_separator and args.entropy_at_sampling_temperature
    assert unescape(args.probe) == "\n</think>\n\n"


def test_step_entropy_paper_decoding_and_ratio():
    _, protocol, _, args = paper(StepEntropyLM)
    assert protocol.decoding == {"temperature": 0.6, "top_p": 0.95, "do_sample": True, "max_gen_toks": 32768}
    assert (args.skip_ratio, args.score, args.selection) == (0.8, "mean", "low")
    assert StepEntropyLM.saves_compute is False and DeerLM.saves_compute is True


def test_entrocut_entra_nowait_skip_paper_constants():
    assert paper(EntroCutLM)[3].threshold is None  # the per-model τ table decides
    entra = paper(EntraLM)[3]
    assert (entra.bie_lambda, entra.top_fraction) == (1e-4, 0.2)
    assert paper(NoWaitLM)[3].keywords == NOWAIT_KEYWORDS and len(NOWAIT_KEYWORDS) == 17
    assert paper(SkipLM)[1].decoding["temperature"] == 0.6


def test_explicit_model_args_win_over_the_preset():
    _, _, _, args = paper(DeerLM, think_ratio="0.8")
    assert args.think_ratio == 0.8


def test_default_protocol_changes_nothing_and_bad_names_are_one_line():
    name, protocol, _, args = DeerLM.resolve_arguments({})
    assert name == "default" and protocol.decoding == {}
    with pytest.raises(CotbenchError, match=r"cotbench-deer: protocol='papers' is invalid \(expected default or paper\)"):
        DeerLM.resolve_arguments({"protocol": "papers"})
    with pytest.raises(CotbenchError, match="cotbench-vanilla: protocol=paper is not defined"):
        VanillaLM.resolve_arguments({"protocol": "paper"})


def test_paper_decoding_overrides_the_task_and_is_recorded(smollm2_path):
    lm = DeerLM(pretrained="smollm2-135m", device="cpu", protocol="paper")
    settings = lm._settings({"max_gen_toks": 32768, "temperature": 0.6, "do_sample": True, "until": ["Q:"]})
    assert (settings.max_new_tokens, settings.do_sample, settings.temperature) == (16000, False, 0.0)
    assert settings.stop_strings == ("Q:",)
    view = SimpleNamespace(max_new_tokens=settings.max_new_tokens, thinking_tokens=9550)
    assert "thinking limit 9600" in lm.policy.on_token(view, 0).reason  # 0.6 × 16,000, closed 50 early
    described = lm.describe()
    assert described["protocol"] == "paper" and "vllm-deer.py" in described["protocol_source"]
    assert described["protocol_decoding"]["max_gen_toks"] == 16000
