"""Dynasor-CoT's official behaviours, each selectable (protocol=paper sets them): probes at 0,
c, 2c, …; sampled probes; answers compared for mathematical equivalence; the exit after the chunk
generated alongside the agreeing probe."""

from cotbench.cot_methods.methods.dynasor import DynasorPolicy, same_answer
from cotbench.cot_methods.policy import CloseThinking, Feed, Probe, ProbeResult, RowView


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


def thinking_at_exit(policy, tokens=1000):
    """Drive `policy` as the HF engine does, every probe answering "21}" with certainty: (thinking
    tokens when it exits, the probe positions, the exit's final text)."""
    state, probes = {}, []
    for n in range(tokens):
        action = policy.on_token(view(n, state), 5)
        if isinstance(action, CloseThinking):
            return n, probes, action.final_text
        if isinstance(action, Probe):
            probes.append(n)
            decision = policy.on_probe(view(n, state), result("21}"))
            if decision.cut:
                return n, probes, decision.final_text
    return None, probes, None


def paper_policy(**overrides):
    from cotbench.cot_methods.methods.dynasor import EFFORTS, DynasorLM

    _, _, _, args = DynasorLM.resolve_arguments({"protocol": "paper", **overrides})
    consistency, chunk = EFFORTS[args.effort]
    return DynasorPolicy(consistency, chunk, [1], args.probe_tokens, "</think>", args.probe_temperature, args.probe_top_p,
                         "string", args.probe_at_start, args.exit_after_chunk)


def test_paper_exit_keeps_the_chunk_generated_alongside_the_last_probe():
    """cot.py (lines 58-150) sends each probe with the next 64-token chunk from the same text and
    appends that chunk before it checks the probe: with probes at 0, 64, 128 agreeing, thinking ends
    at 192, not at 128 — the tokens an early exit saves are one chunk fewer than the probe position
    suggests. Ours (`exit_after_chunk=false`) exits at the agreeing probe."""
    exit_at, probes, final = thinking_at_exit(paper_policy())
    assert probes == [0, 64, 128] and exit_at == 128 + 64
    assert final.endswith("\\boxed{21}\n\\]")
    ours_exit, ours_probes, _ = thinking_at_exit(paper_policy(exit_after_chunk="false"))
    assert ours_probes == [0, 64, 128] and ours_exit == 128


def test_segment_plan_asks_for_the_probe_at_zero_and_stops_at_the_exit():
    """On segment backends the plan puts the decisions where the HF engine takes them: the paper's
    probe at 0 before any thinking, and the exit after the chunk that follows the agreeing probe."""
    policy, state = paper_policy(), {}
    assert policy.segment_plan(view(0, state)).max_tokens == 0
    assert isinstance(policy.on_token(view(0, state), 5), Probe)
    assert policy.segment_plan(view(0, state)).max_tokens == 64
    policy.on_probe(view(0, state), result("21}"))
    for n in (64, 128):
        assert policy.segment_plan(view(n - 10, state)).max_tokens == 10  # think to the next probe
        assert isinstance(policy.on_token(view(n, state), 5), Probe)
        policy.on_probe(view(n, state), result("21}"))
    assert policy.segment_plan(view(150, state)).max_tokens == 192 - 150  # the chunk after the agreeing probe, no more
    assert policy.segment_plan(view(192, state)).max_tokens == 0
    assert isinstance(policy.on_token(view(192, state), -1), CloseThinking)
