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


# --- protocol=paper: vllm-deer.py's trial answer and thinking limit (issue items 5 and 6) --------
WAIT, OTHER = 1, 7


def deer_policy(protocol: str) -> DeerPolicy:
    from cotbench.cot_methods.methods.deer import DeerLM

    _, _, _, args = DeerLM.resolve_arguments({"protocol": protocol})
    return DeerPolicy(args, {WAIT}, [2, 3], str)


def trial_answer(max_probs, chosen_probs):
    """The probe's "{", "4", "2", "}\\n": each position's max probability and the probability of
    the token the probe actually took."""
    from cotbench.cot_methods.policy import ProbeResult

    return ProbeResult(entropies=[0.0] * 4, max_probs=max_probs, token_ids=[11, 12, 13, 14], text="{42}\n",
                       token_texts=["{", "4", "2", "}\n"], chosen_probs=chosen_probs)


def decide(policy, result, view=None):
    from cotbench.cot_methods.policy import RowView

    return policy.on_probe(view or RowView(100, None, "Wait", 0, 16000), result)


def test_paper_confidence_averages_the_sampled_tokens_with_the_closing_brace():
    """vllm-deer.py (lines 100-149, 432-437) samples the trial answer and averages the probability of
    each token it drew, from the second to the last: the closing "}\\n" counts, and a digit drawn
    against the odds lowers the confidence. Ours (default) averages max probabilities without "{"
    and the closing brace, so the same trial answer exits under one rule and not the other."""
    paper, default = deer_policy("paper"), deer_policy("default")
    assert paper.spec.temperature == 1.0 and default.spec.temperature == 0.0  # vLLM's default T; ours greedy
    # A likely answer whose closing brace is uncertain: 0.99, 0.99, 0.80 → 0.927 < λ = 0.95.
    uncertain_close = trial_answer([0.6, 0.99, 0.99, 0.80], [0.6, 0.99, 0.99, 0.80])
    assert decide(paper, uncertain_close).score == pytest.approx((0.99 + 0.99 + 0.80) / 3)
    assert not decide(paper, uncertain_close).cut and decide(default, uncertain_close).cut
    # The probe drew an unlikely "2" (0.30 where the likeliest token had 0.99): only the paper rule sees it.
    unlikely_draw = trial_answer([0.6, 0.99, 0.99, 0.99], [0.6, 0.99, 0.30, 0.99])
    assert decide(paper, unlikely_draw).score == pytest.approx((0.99 + 0.30 + 0.99) / 3)
    assert not decide(paper, unlikely_draw).cut and decide(default, unlikely_draw).score == pytest.approx(0.99)
    # A one-token answer has nothing to average (the official code divides by zero): no exit.
    assert decide(paper, trial_answer([0.99], [0.99])).score == 0.0


def thinking_end(policy, waits=(), max_new_tokens=1000, confidence=0.5):
    """Drive `policy` token by token as the HF engine does (probe before the token is fed); every
    trial answer scores `confidence`. Returns (thinking tokens when thinking closed, reason, probes)."""
    from cotbench.cot_methods.policy import CloseThinking, Probe, RowView

    state, probes = {}, []
    for n in range(max_new_tokens):
        view = RowView(n, None, "", len(probes), max_new_tokens, state)
        action = policy.on_token(view, WAIT if n in waits else OTHER)
        if isinstance(action, CloseThinking):
            return n, action.reason, probes
        if isinstance(action, Probe):
            probes.append(n)
            decision = decide(policy, trial_answer([confidence] * 4, [confidence] * 4), view)
            if decision.cut:
                return n, decision.reason, probes
    return None, None, probes


def test_paper_thinking_limit_waits_for_the_next_wait_or_the_hard_limit():
    """think_ratio 0.6 of 1,000 tokens: a limit of 600. Ours closes at 600 − 50 on any token. The
    official vLLM loop (vllm-deer.py:383-386, 633-636) thinks on to the next "Wait" and exits at
    its probe once past 600 − 50 (whatever the confidence), or at 600 itself after one more probe."""
    assert thinking_end(deer_policy("default"), waits={570})[:2] == (550, "thinking limit 600")
    paper = deer_policy("paper")
    assert thinking_end(paper, waits={500, 570}) == (570, "thinking limit 600", [500, 570])  # 500: unsure, thinks on
    assert thinking_end(paper, waits={500}) == (600, "thinking limit 600", [500, 600])
    assert thinking_end(paper, waits={620}) == (600, "thinking limit 600", [600])
    # Confident before the margin: the usual early exit.
    assert thinking_end(paper, waits={300}, confidence=0.99)[:2] == (300, "confidence 0.9900 > 0.95")
