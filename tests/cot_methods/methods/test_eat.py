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
