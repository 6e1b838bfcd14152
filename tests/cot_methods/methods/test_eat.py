"""EAT's official probe point: the forced "\\n</think>\\n\\n" follows the step's line directly
("line\\n</think>\\n\\n"), not after an extra blank line."""

from cotbench.cot_methods.methods.eat import EatArgs, EatPolicy
from cotbench.cot_methods.policy import Feed, Probe, RowView


def view(tail, token_text, thinking=10):
    return RowView(thinking_tokens=thinking, last_token_id=None, token_text=token_text, probes_done=0,
                   max_new_tokens=1000, state={}, tail_text=lambda: tail)


def official_policy(fed_texts):
    def encode(text):
        fed_texts.append(text)
        return [len(fed_texts)]

    return EatPolicy(EatArgs(replace_separator=True, entropy_at_sampling_temperature=True), [1], encode)


def test_probe_replaces_the_separator_token():
    fed = []
    policy = official_policy(fed)
    action = policy.on_token(view("x = 2 + 3 = 5", ".\n\n"), 5)
    assert isinstance(action, Probe) and action.spec.entropy_at_sampling_temperature
    assert "x = 2 + 3 = 5" + fed[-1] == "x = 2 + 3 = 5.\n</think>\n\n"


def test_separator_split_over_two_tokens():
    fed = []
    policy = official_policy(fed)
    assert isinstance(policy.on_token(view("x = 5\n", "\n"), 5), Probe)
    assert "x = 5\n" + fed[-1] == "x = 5\n</think>\n\n"  # one "\n" already fed, the probe supplies the rest


def test_no_probe_inside_a_step_and_default_keeps_its_probe_point():
    fed = []
    assert isinstance(official_policy(fed).on_token(view("x = 5", "."), 5), Feed)
    default = EatPolicy(EatArgs(), [1])
    assert isinstance(default.on_token(view("x = 5.\n\n", "The"), 5), Probe)
    assert isinstance(default.on_token(view("x = 5", ".\n\n"), 5), Feed)
    assert not default.spec.entropy_at_sampling_temperature


# --- protocol=paper: the official probe on R1-0528 models and the first stop check (item 8) -----
def resolved(protocol: str):
    from cotbench.cot_methods.methods.eat import EatLM

    return EatLM.resolve_arguments({"protocol": protocol})[3]


def test_paper_probes_r1_0528_models_with_one_newline_after_think():
    """compute_entropy_ngram.py:75-78: a model whose name holds "0528" (DeepSeek-R1-0528-Qwen3-8B)
    gets "\\n</think>\\n", the others "\\n</think>\\n\\n"; the default keeps one probe for all."""
    from cotbench.cot_methods.methods.eat import probe_for

    paper, default = resolved("paper"), resolved("default")
    assert probe_for(paper, "deepseek-ai/DeepSeek-R1-0528-Qwen3-8B") == "\\n</think>\\n"
    assert probe_for(paper, "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B") == "\\n</think>\\n\\n"
    assert probe_for(default, "deepseek-ai/DeepSeek-R1-0528-Qwen3-8B") == "\\n</think>\\n\\n"
    # In place of the step's "\n\n", the R1-0528 model reads "line\n</think>\n".
    fed = []
    policy = EatPolicy(paper, [1], lambda text: fed.append(text) or [1], probe_for(paper, "DeepSeek-R1-0528-Qwen3-8B"))
    assert isinstance(policy.on_token(view("x = 2 + 3 = 5", ".\n\n"), 5), Probe)
    assert "x = 2 + 3 = 5" + fed[-1] == "x = 2 + 3 = 5.\n</think>\n"


def official_exit_line(entropies, alpha, delta, min_distance):
    """early_stopping_utils.py's post-hoc rule, restated: EMA variance v (v[0] = 0), then the first
    index i of v[1:] with i >= min_distance and v[i + 1] < δ; the step that decided is i + 2 (1-based)."""
    mean, variance, trace = entropies[0], 0.0, [0.0]
    for x in entropies[1:]:
        mean = alpha * x + (1 - alpha) * mean
        variance = alpha * (x - mean) ** 2 + (1 - alpha) * variance
        trace.append(variance)
    return next((i + 2 for i, v in enumerate(trace[1:]) if i >= min_distance and v < delta), None)


def cut_step(policy, entropies):
    from cotbench.cot_methods.policy import ProbeResult

    state = {}
    for step, x in enumerate(entropies, start=1):
        row = RowView(thinking_tokens=step, last_token_id=None, token_text="", probes_done=step - 1, max_new_tokens=1000, state=state)
        if policy.on_probe(row, ProbeResult([x], [0.5], [1], "")).cut:
            return step
    return None


def test_paper_stop_rule_first_checks_the_step_the_official_rule_checks():
    """The official rule skips the first variance and then min_distance = 4/α more, so its first
    compared step is 4/α + 2 = 22 for α = 0.2; ours compares from 4/α + 1 = 21, one step earlier."""
    flat = [1.0] * 40  # settled from the start: the first compared step cuts
    assert cut_step(EatPolicy(resolved("paper"), [1]), flat) == official_exit_line(flat, 0.2, 1e-3, 20) == 22
    assert cut_step(EatPolicy(resolved("default"), [1]), flat) == 21
    swinging = [1.0 + (0.5 if i % 2 else -0.5) * 0.9 ** i for i in range(80)]  # settles slowly
    official = official_exit_line(swinging, 0.2, 1e-3, 20)
    assert official is not None and official > 22 and cut_step(EatPolicy(resolved("paper"), [1]), swinging) == official
