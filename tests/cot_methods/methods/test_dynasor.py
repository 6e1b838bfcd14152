"""Dynasor-CoT's official behaviours, each selectable (protocol=paper sets them): probes at 0,
c, 2c, …; sampled probes; answers compared for mathematical equivalence."""

from cotbench.cot_methods.methods.dynasor import DynasorPolicy, same_answer
from cotbench.cot_methods.policy import Feed, Probe, ProbeResult, RowView


def view(thinking, state):
    return RowView(thinking_tokens=thinking, last_token_id=None, token_text="", probes_done=0, max_new_tokens=1000, state=state)


def result(text):
    return ProbeResult(entropies=[0.1], max_probs=[0.9], token_ids=[1], text=text)


def test_official_probes_start_before_the_first_chunk():
    official = DynasorPolicy(3, 32, [1], 20, "</think>", probe_at_start=True)
    ours = DynasorPolicy(3, 32, [1], 20, "</think>")
    assert isinstance(official.on_token(view(0, {}), 5), Probe)
    assert isinstance(ours.on_token(view(0, {}), 5), Feed)
    state = {}
    probed_at = [n for n in range(0, 100) if isinstance(official.on_token(view(n, state), 5), Probe)]
    assert probed_at == [0, 32, 64, 96]


def test_probes_are_sampled_at_the_official_temperature():
    spec = DynasorPolicy(3, 32, [1], 20, "</think>", probe_temperature=0.6, probe_top_p=0.95).spec
    assert (spec.temperature, spec.top_p) == (0.6, 0.95)
    assert DynasorPolicy(3, 32, [1], 20, "</think>").spec.temperature == 0.0


def test_equivalent_answers_agree_under_math_comparison():
    assert same_answer("\\frac{1}{2}", "1/2", "math") and same_answer("0.5", "\\frac12", "math")
    assert not same_answer("\\frac{1}{2}", "1/2", "string")
    assert not same_answer("1/3", "1/2", "math") and not same_answer("", "1/2", "math")
    policy = DynasorPolicy(3, 32, [1], 20, "</think>", compare="math")
    state = {}
    cuts = [policy.on_probe(view(64, state), result(t)).cut for t in ["\\frac{1}{2}}", "1/2}", "0.5}"]]
    assert cuts == [False, False, True]
    string_policy, state = DynasorPolicy(3, 32, [1], 20, "</think>"), {}
    assert not any(string_policy.on_probe(view(64, state), result(t)).cut for t in ["\\frac{1}{2}}", "1/2}", "0.5}"])
