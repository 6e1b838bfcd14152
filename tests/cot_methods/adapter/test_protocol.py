"""`protocol=paper`: every adapter runs its method's published decoding, budget and constants, and
its records say so; explicit model_args still win.

The runs are real generations on SmolLM2 with what a task asks (at most 4 sampled tokens, ending at
the first sentence); the assertions read the records and text that came back."""

from types import SimpleNamespace

import pytest

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
from cotbench.cot_methods.policy import Probe, ProbeResult
from cotbench.errors import CotbenchError

PROMPT = "What is 2 + 3?"
# What a task asks: at most 4 sampled tokens, ending at the first sentence (so that a preset which
# allows thousands of tokens still ends within a few on SmolLM2).
TASK = {"max_gen_toks": 4, "temperature": 0.9, "do_sample": True, "until": [".", "\n"]}


def paper(cls, **model_args):
    return cls.resolve_arguments({"protocol": "paper", **model_args})


def generate(cls, requests: list[dict], **model_args):
    """The adapter, and (text, record) of one real generation per request's gen_kwargs."""
    lm = cls(pretrained="smollm2-135m", device="cpu", batch_size=1, protocol="paper", **model_args)
    texts = lm.generate_until([SimpleNamespace(args=(PROMPT, gen_kwargs)) for gen_kwargs in requests], disable_tqdm=True)
    return lm, [(str(text), text.cotbench) for text in texts]


def test_deer_paper_decodes_greedily_with_16000_tokens_allowed(smollm2_path):
    lm, [(text_1, record), (text_2, _)] = generate(DeerLM, [{**TASK, "seed": 1}, {**TASK, "seed": 2}])
    assert record.total_tokens > 4 and record.finish_reason in ("stop", "eos")  # past the task's 4 tokens: it ended by itself
    assert text_1 == text_2  # greedy: the task's sampling and seeds change nothing
    decoding, args = record.adapter["decoding"], record.adapter["method_args"]
    assert (decoding["max_new_tokens"], decoding["do_sample"], decoding["temperature"]) == (16000, False, 0.0)
    assert (args["think_ratio"], args["threshold"], args["confidence"], args["max_probes"]) == (0.6, 0.95, "avg1", 10)
    assert record.adapter["protocol"] == "paper" and "vllm-deer.py" in record.adapter["protocol_source"]
    assert record.adapter["saves_compute"] is True
    # Thinking may run to think_ratio × 16,000 = 9,600 tokens; past 9,550 the next "Wait" probes and exits (vllm-deer.py).
    view = SimpleNamespace(max_new_tokens=16000, thinking_tokens=9550, probes_done=0)
    assert isinstance(lm.policy.on_token(view, next(iter(lm.policy.trigger_ids))), Probe)
    unsure = ProbeResult([0.0] * 3, [0.1] * 3, [1, 2, 3], "{1}", chosen_probs=[0.1] * 3)
    assert "thinking limit 9600" in lm.policy.on_probe(view, unsure).reason
    assert (args["probe_temperature"], args["confidence_probs"], args["limit_rule"]) == (1.0, "sampled", "next_trigger")


def test_s1_paper_closes_greedily_with_final_answer_without_a_blank_line(smollm2_path):
    _, [(text, record)] = generate(BudgetLM, [{**TASK, "max_gen_toks": 12, "until": []}], thinking_budget=2)
    assert record.cut_position == 2 and record.forced["text"].endswith("\n</think>\nFinal Answer:")
    assert "\n</think>\nFinal Answer:" in text and "\n</think>\n\nFinal Answer:" not in text
    assert record.adapter["decoding"]["do_sample"] is False


def test_dynasor_paper_samples_and_probes_from_the_first_token(smollm2_path):
    _, [(_, record)] = generate(DynasorLM, [TASK])
    assert record.probes[0]["position"] == 0  # the official client probes at 0, c, 2c, …
    decoding, args = record.adapter["decoding"], record.adapter["method_args"]
    assert (decoding["do_sample"], decoding["temperature"], decoding["top_p"], decoding["max_new_tokens"]) == (True, 0.6, 0.95, 16384)
    assert (args["probe_temperature"], args["probe_top_p"], args["compare"]) == (0.6, 0.95, "math")


PRESETS = [  # (adapter, what its paper preset puts in every record)
    (EatLM, {"engine_args": {"entropy_unit": "bits"},
             "method_args": {"probe": "\\n</think>\\n\\n", "replace_separator": True, "entropy_at_sampling_temperature": True}}),
    (StepEntropyLM, {"decoding": {"do_sample": True, "temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
                     "method_args": {"skip_ratio": 0.8, "score": "mean", "selection": "low"}, "saves_compute": False}),
    # The per-model τ table decides: SmolLM2 is not in it, so the fallback 0.15, marked uncalibrated.
    (EntroCutLM, {"method_args": {"threshold": None, "threshold_used": 0.15, "threshold_calibrated_for_model": False}}),
    (EntraLM, {"method_args": {"bie_lambda": 1e-4, "top_fraction": 0.2}}),
    (NoWaitLM, {"method_args": {"keywords": NOWAIT_KEYWORDS}}),  # the paper's 17
    (SkipLM, {"decoding": {"do_sample": True, "temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768}}),
]


@pytest.mark.parametrize("cls, preset", PRESETS, ids=[cls.method_name for cls, _ in PRESETS])
def test_every_paper_preset_is_what_its_records_say(cls, preset, smollm2_path):
    _, [(_, record)] = generate(cls, [TASK])
    assert record.adapter["protocol"] == "paper"
    for part, expected in preset.items():
        recorded = record.adapter[part]
        assert ({key: recorded[key] for key in expected} if isinstance(expected, dict) else recorded) == expected, part


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


def test_paper_decoding_over_what_the_request_asked_warns_once_per_setting_and_records_both(smollm2_path, capsys):
    """`--gen_kwargs max_gen_toks=4` with DEER's protocol=paper: the paper's budget and greedy decoding
    run, one stderr line per overridden setting says so (not one per request), the record keeps both."""
    used = DeerLM.PAPER_PROTOCOL.decoding
    asked = {**TASK, "temperature": used["temperature"]}  # the temperature the paper uses too: not an override
    _, generated = generate(DeerLM, [asked, asked, {**asked, "seed": 3}])
    lines = capsys.readouterr().err.splitlines()
    for name in ("max_gen_toks", "do_sample"):
        named = [line for line in lines if f"runs {name}={used[name]!r}, not the requested {name}={asked[name]!r}" in line]
        assert len(named) == 1, lines
    assert not [line for line in lines if "requested temperature" in line]
    expected = {name: {"requested": asked[name], "used": used[name]} for name in ("max_gen_toks", "do_sample")}
    assert all(record.adapter["protocol_overrides"] == expected for _, record in generated)
    assert generated[0][1].adapter["decoding"]["max_new_tokens"] == used["max_gen_toks"]


def test_the_default_protocol_overrides_nothing_and_says_nothing(smollm2_path, capsys):
    lm = DeerLM(pretrained="smollm2-135m", device="cpu", batch_size=1)
    [text] = lm.generate_until([SimpleNamespace(args=(PROMPT, TASK))], disable_tqdm=True)
    assert "protocol=paper" not in capsys.readouterr().err
    assert text.cotbench.adapter["protocol_overrides"] == {}
    assert text.cotbench.adapter["decoding"]["max_new_tokens"] == TASK["max_gen_toks"]
