"""Reward values on hand-made completions (TRL's reward-function signature)."""

import pickle

import pytest

from cotbench.cot_methods.training.rewards import EntraReward, make_step_entropy_reward


def test_step_entropy_reward_tiers_and_penalties():
    reward = make_step_entropy_reward("code")
    completions = [
        "[SKIP][SKIP][SKIP][SKIP]\n\nlast</think>\\boxed{5}",  # 4/(1+4)=0.8 → +1; correct +2
        "a\n\n[SKIP]</think>\\boxed{5}",  # ratio 1/(1+1)=0.5 → +0.5; correct
        "a\n\nb\n\nc</think>\\boxed{4}",  # ratio 0, wrong
        "\\boxed{5} but never closed",  # no </think>: not counted correct
        "[SKIP]\n\n" * 101 + "</think>\\boxed{5}",  # >100 skips: -2; ratio ~0.5 → +0.5; correct +2
    ]
    values = reward(prompts=[""] * 5, completions=completions, completion_ids=[[0] * 10] * 5, answer=["5"] * 5)
    assert values == [3.0, 2.5, 0.0, 0.0, 0.5]
    paper = make_step_entropy_reward("paper")(completions=completions[-1:], completion_ids=[[0] * 10], answer=["5"])
    assert paper == [1.5]
    too_long = reward(completions=["x</think>\\boxed{5}"], completion_ids=[[0] * 3501], answer=["5"])
    assert too_long == [1.0]


def test_conversational_completions_are_read():
    reward = make_step_entropy_reward()
    assert reward(completions=[[{"role": "assistant", "content": "ok</think>\\boxed{7}"}]], answer=["7"]) == [2.0]


def test_bad_penalty_choice():
    with pytest.raises(ValueError, match="skip_penalty='both'"):
        make_step_entropy_reward("both")


def test_entra_reward_is_correctness_plus_weighted_redundancy(tiny_llama):
    model, tok = tiny_llama
    texts = ["so so so so so so so so</think>\\boxed{3}", "one two three four five six seven</think>\\boxed{4}"]
    ids = [tok.encode(t, add_special_tokens=False) for t in texts]
    zero = EntraReward(model, tok, weight=0.0)(prompts=["q", "q"], completions=texts, completion_ids=ids, answer=["3", "3"])
    assert zero == [1.0, 0.0]
    weighted = EntraReward(model, tok, weight=-1.0)(prompts=["q", "q"], completions=texts, completion_ids=ids, answer=["3", "3"])
    assert 0.0 <= 1.0 - weighted[0] <= 1.0 and -1.0 <= weighted[1] <= 0.0
    assert (1.0 - weighted[0]) < (0.0 - weighted[1])  # the repetitive answer has the lower redundancy entropy


def test_step_entropy_reward_pickles_and_keeps_its_values():
    reward = make_step_entropy_reward("paper")
    restored = pickle.loads(pickle.dumps(reward))
    completions = ["[SKIP]\n\n" * 101 + "</think>\\boxed{5}", "a\n\n[SKIP]</think>\\boxed{5}"]
    kwargs = dict(completions=completions, completion_ids=[[0] * 10] * 2, answer=["5", "5"])
    assert restored(**kwargs) == reward(**kwargs) == [1.5, 2.5]
    assert restored.__name__ == "step_entropy_reward_paper"


def test_entra_default_reward_prefers_short_diverse_over_long_repetitive(tiny_llama):
    """ENTRA's reward is the normalised entropy of the low-importance tokens; low entropy is
    redundancy, so with the default weight a long repetitive (but correct) completion must
    score below a short diverse (and equally correct) one."""
    model, tok = tiny_llama
    repetitive = "so " * 60 + "the answer is 3</think>\\boxed{3}"
    diverse = "add one and two to get three</think>\\boxed{3}"
    texts = [repetitive, diverse]
    ids = [tok.encode(t, add_special_tokens=False) for t in texts]
    assert len(ids[0]) > 3 * len(ids[1])
    scores = EntraReward(model, tok)(prompts=["1+2?", "1+2?"], completions=texts, completion_ids=ids, answer=["3", "3"])
    assert all(score >= 1.0 for score in scores)  # both correct, redundancy adds a non-negative bonus
    assert scores[0] < scores[1]


def test_entra_reward_reads_the_completion_in_the_context_the_policy_saw(tiny_llama):
    """GRPOTrainer generates after the chat-templated prompt (generation prompt included): a
    conversational prompt is scored in that context, exactly as the same context given as text,
    and not as the bare message text."""
    model, tok = tiny_llama
    messages = [{"role": "user", "content": "What is 1+2?"}]
    templated = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    completion = "add one and two to get three so three</think>\\boxed{3}"
    ids = [tok.encode(completion, add_special_tokens=False)]
    reward = EntraReward(model, tok, reading="next_token_entropy")  # the reading that depends on the context's logits

    def score(prompt):
        return reward(prompts=[prompt], completions=[completion], completion_ids=ids, answer=["3"])[0]

    assert score(messages) == score(templated)  # the same ids, the same computation
    assert score(messages) != score("What is 1+2?")  # not vacuous: the context changes the reward
