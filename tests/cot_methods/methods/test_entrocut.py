"""EntroCut's τ per task (the paper adjusts τ for AMC23): `threshold=cot_amc23:0.2|default:0.15`
is parsed, resolved per request's task, and recorded with each run."""

from types import SimpleNamespace

import pytest

from cotbench.cot_methods.methods.entrocut import EntroCutLM, parse_thresholds
from cotbench.errors import CotbenchError

COMMON_TRIGGERS = "The|So|We|To|First|Now|This|Let"  # SmolLM2 rarely says "Wait"


def test_spec_parses_to_a_threshold_per_task():
    _, _, _, args = EntroCutLM.resolve_arguments({"threshold": "cot_amc23:0.2|default:0.15"})
    assert args.thresholds == {"cot_amc23": 0.2, "default": 0.15}
    _, _, _, plain = EntroCutLM.resolve_arguments({"threshold": "0.3"})
    assert plain.threshold == 0.3 and plain.thresholds == {"default": 0.3}
    assert EntroCutLM.resolve_arguments({})[3].thresholds == {}


@pytest.mark.parametrize("spec, fragment", [
    ("cot_amc23=0.2", "bad entry 'cot_amc23=0.2'"),
    ("cot_amc23:0.2|default", "bad entry 'default'"),
    ("cot_amc23:high", "bad entry 'cot_amc23:high'"),
    ("cot_amc23:0.2|cot_amc23:0.3", "duplicate task 'cot_amc23'"),
    (":0.2", "bad entry ':0.2'"),
])
def test_malformed_spec_is_one_clear_line(spec, fragment):
    with pytest.raises(CotbenchError) as error:
        parse_thresholds(spec, "cotbench-entrocut")
    message = str(error.value)
    assert "\n" not in message and f"threshold={spec!r} is invalid" in message and fragment in message
    assert "cot_amc23:0.2|default:0.15" in message  # says what is expected


def test_negative_task_threshold_is_rejected():
    with pytest.raises(CotbenchError, match=r"threshold='cot_amc23:-1.0' is invalid"):
        EntroCutLM.resolve_arguments({"threshold": "cot_amc23:-1|default:0.1"})


def test_each_request_runs_with_its_tasks_threshold(smollm2_path):
    lm = EntroCutLM(pretrained="smollm2-135m", device="cpu", batch_size=2, triggers=COMMON_TRIGGERS,
                    min_thinking_tokens=2, threshold="cot_amc23:1000|default:0")
    question = "Janet has 16 eggs. She eats 3 and bakes with 4. How many are left? Please reason step by step."
    gen = {"max_gen_toks": 40, "temperature": 0.0}
    requests = [SimpleNamespace(args=(question, gen), task_name=task) for task in ("cot_gsm8k", "cot_amc23", "cot_gsm8k")]
    outputs = lm.generate_until(requests, disable_tqdm=True)
    records = [o.cotbench for o in outputs]
    assert [r.adapter["method_args"]["threshold_task"] for r in records] == ["cot_gsm8k", "cot_amc23", "cot_gsm8k"]
    assert [r.adapter["method_args"]["threshold_used"] for r in records] == [0.0, 1000.0, 0.0]
    assert records[1].closed_by == "method"  # τ = 1000: the first probe cuts
    assert all(r.closed_by != "method" and r.probes for r in (records[0], records[2]))  # τ = 0: never
    assert str(outputs[0]) == str(outputs[2])


def test_a_repeats_variant_runs_with_its_base_tasks_threshold(smollm2_path):
    """`cotbench eval --repeats 2` renames cot_amc23 to cot_amc23_k2: its τ is still cot_amc23's."""
    from lm_eval.api.instance import Instance

    lm = EntroCutLM(pretrained="smollm2-135m", device="cpu", batch_size=2, triggers=COMMON_TRIGGERS,
                    min_thinking_tokens=2, threshold="cot_amc23:1000|default:0")
    question = "Janet has 16 eggs. She eats 3 and bakes with 4. How many are left? Please reason step by step."
    gen = {"max_gen_toks": 40, "temperature": 0.0}

    def request(task):
        return Instance("generate_until", doc={}, arguments=(question, gen), idx=0, metadata=(task, 0, 2))

    amc, gsm = request("cot_amc23_k2"), request("cot_gsm8k_k2")
    records = [o.cotbench for o in lm.generate_until([amc, gsm, amc, gsm], disable_tqdm=True)]
    assert [r.adapter["method_args"]["threshold_used"] for r in records] == [1000.0, 0.0] * 2
    assert [r.adapter["method_args"]["threshold_entry"] for r in records] == ["cot_amc23", "default"] * 2
    assert [r.closed_by == "method" for r in records] == [True, False] * 2  # τ = 1000 cuts at the first probe; τ = 0 never
