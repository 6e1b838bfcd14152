"""DEER's trial answer ends where vllm-deer.py's stop strings say: at the end of \\boxed{…},
never inside it (checked on the real Qwen3 and DeepSeek-V3/R1 tokenisations)."""

import pytest

from cotbench.cot_methods.methods.deer import DEER_STOP_TEXTS, DeerArgs, DeerPolicy


def probe_answer(tokenizer, continuation: str) -> str:
    """The engine's probe stop rule (hf_engine.py `_step_probe`): decode token by token and stop
    once the decoded answer contains a stop text; returns the answer it would score."""
    ids = tokenizer.encode(continuation, add_special_tokens=False)
    for n in range(1, len(ids) + 1):
        text = tokenizer.decode(ids[:n])
        if any(stop in text for stop in DEER_STOP_TEXTS):
            return text
    return tokenizer.decode(ids)


@pytest.mark.parametrize("name", ["qwen3", "deepseek_v3"])
@pytest.mark.parametrize("continuation, answer", [
    ("{\\frac{1}{2}}\n\nSo the answer is", "{\\frac{1}{2}}"),
    ("{\\frac{3}{4}}.\n\nThus", "{\\frac{3}{4}}"),
    ("{x^{2}+1}\n", "{x^{2}+1}"),
    ("{42}. Done", "{42}"),
    ("{(1, 2)}\nnext", "{(1, 2)}"),
])
def test_probe_is_not_cut_inside_nested_braces(reference_tokenizers, name, continuation, answer):
    got = probe_answer(reference_tokenizers[name], continuation)
    assert got.startswith(answer), (name, got)
    assert len(got) - len(answer) <= 3  # it stops right after the boxed answer, not later


@pytest.mark.parametrize("name", ["qwen3", "deepseek_v3"])
def test_official_stops_still_cut_a_double_closing_brace_inside(reference_tokenizers, name):
    """A known limit of the official list, kept for fidelity (docs/FIDELITY.md): "}}" inside
    the answer, as in \\frac{\\sqrt{3}}{2}, ends the probe early."""
    got = probe_answer(reference_tokenizers[name], "{\\frac{\\sqrt{3}}{2}}.\n")
    assert got.startswith("{\\frac{\\sqrt{3}}") and not got.startswith("{\\frac{\\sqrt{3}}{2}")


def test_policy_probes_with_the_official_stops():
    policy = DeerPolicy(DeerArgs(), {1}, [2, 3], str)
    assert set(policy.spec.stop_texts) == {" }", "}\n", "}\n\n", "}.", "}.\n", "}\\", "}}", ")}", ")}.", ")}\n"}
    assert not any(stop in "{\\frac{1}{2" for stop in policy.spec.stop_texts)
