"""GRPO reward functions with TRL's signature: `reward(prompts, completions, completion_ids,
**dataset_columns) -> list[float]` (pass them as `GRPOTrainer(reward_funcs=[...])`; the
dataset needs an `answer` column with the gold).

Step entropy (arXiv 2508.03346; official stage2_rl_training/grpo_train.py, four rewards
summed with equal weights):
- correct answer after </think>: +2 (R_correct); the thinking is the text before the *last*
  </think>, the grader's split (cotbench/thinking.py; the official code's `seq.find` takes the
  first, which differs only when a completion writes it twice);
- skip ratio = count([SKIP]) / (count("\\n\\n") + count([SKIP])) in the thinking: ≥ 0.8 → +1,
  ≥ 0.5 → +0.5 (R_ratio);
- more than 100 [SKIP]: −2 in the official code, −1 in the paper's text (R_num; selectable);
- more than 3,500 completion tokens: −1 (R_len).

ENTRA (arXiv 2601.07123): correctness plus `weight` × the normalised redundancy score of the
completion (bie.py), read in the context the policy generated it in: the prompt as GRPOTrainer
tokenised it (a conversational prompt chat-templated with the generation prompt, a plain prompt
tokenised as is) followed by the completion's own ids. The reward *is* the normalised entropy of
the low-importance tokens, r = −Σ p log p / log(|T| − k), and "lower entropy = more skewed, more
repetitive, more redundant" (seed paper text, Mechanism 2; docs/METHODS.md §3.2), so GRPO
maximises it: the default weight is +1 and a long repetitive completion earns less than a short
diverse one. (One
summary's "optimising for lower entropy" contradicts the seed and is not followed.)
"""

from __future__ import annotations

from cotbench.harness_tasks.grading import DEFAULT_THINK_END, grade_math

from ...thinking import split_thinking
from ..signals.steps import skip_statistics

CORRECT_REWARD = 2.0
ENTRA_WEIGHT = 1.0  # the reward is the normalised entropy itself (seed paper, Mechanism 2)
SKIP_RATIO_TIERS = ((0.8, 1.0), (0.5, 0.5))
MAX_SKIPS = 100
SKIP_PENALTIES = {"code": -2.0, "paper": -1.0}
MAX_COMPLETION_TOKENS = 3500
LENGTH_PENALTY = -1.0


def completion_text(completion) -> str:
    """TRL passes plain strings, or message lists for conversational datasets."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


class StepEntropyReward:
    """The step-entropy composite reward; `skip_penalty` = "code" (−2) or "paper" (−1).

    A small class rather than a closure so that it pickles: TRL and `datasets.map` with
    several processes send reward functions to worker processes."""

    def __init__(self, skip_penalty: str = "code", think_end: str = DEFAULT_THINK_END):
        if skip_penalty not in SKIP_PENALTIES:
            raise ValueError(f"skip_penalty={skip_penalty!r}: expected 'code' or 'paper'")
        self.skip_penalty, self.penalty, self.think_end = skip_penalty, SKIP_PENALTIES[skip_penalty], think_end
        self.__name__ = f"step_entropy_reward_{skip_penalty}"  # TRL logs rewards/<__name__>/mean

    def __call__(self, prompts=None, completions=(), completion_ids=None, answer=(), **_):
        rewards = []
        for i, completion in enumerate(completions):
            text = completion_text(completion)
            thinking, _answer, closed = split_thinking(text, self.think_end)
            stats = skip_statistics(thinking if closed else text)  # never closed: all of it is thinking
            reward = CORRECT_REWARD if closed and grade_math(text, str(answer[i]), self.think_end).correct else 0.0
            reward += next((bonus for floor, bonus in SKIP_RATIO_TIERS if stats["skip_ratio"] >= floor), 0.0)
            if stats["skip_steps"] > MAX_SKIPS:
                reward += self.penalty
            n_tokens = len(completion_ids[i]) if completion_ids is not None else len(text.split())
            if n_tokens > MAX_COMPLETION_TOKENS:
                reward += LENGTH_PENALTY
            rewards.append(reward)
        return rewards


def make_step_entropy_reward(skip_penalty: str = "code", think_end: str = DEFAULT_THINK_END) -> StepEntropyReward:
    """The step-entropy composite reward (a picklable `StepEntropyReward`)."""
    return StepEntropyReward(skip_penalty, think_end)


def policy_prompt_ids(tokenizer, prompt, chat_template_kwargs: dict | None = None) -> list[int]:
    """The prompt's token ids as GRPOTrainer fed them to the policy (`_tokenize_prompts`, TRL
    1.x): a conversational prompt (a list of messages) through the chat template with the
    generation prompt, no further special tokens; a plain string through the tokenizer as is."""
    if isinstance(prompt, list):
        return list(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=True,
                                                  **(chat_template_kwargs or {}))["input_ids"])
    return list(tokenizer(text=str(prompt))["input_ids"])


class EntraReward:
    """ENTRA reward: correctness (1/0) + weight × redundancy score of the completion, with BIE
    computed on the context the policy saw (`policy_prompt_ids` + the completion's ids).

    `chat_template_kwargs`: the same as GRPOConfig's (e.g. `{"enable_thinking": True}`), so the
    prompt is rendered as the trainer rendered it."""

    def __init__(self, model, tokenizer, weight: float = ENTRA_WEIGHT, bie_lambda: float | None = None, reading: str = "type_entropy",
                 think_end: str = DEFAULT_THINK_END, chat_template_kwargs: dict | None = None, top_fraction: float | None = None):
        from ..signals.bie import DEFAULT_LAMBDA, DEFAULT_TOP_FRACTION

        self.model, self.tokenizer, self.weight, self.reading, self.think_end = model, tokenizer, weight, reading, think_end
        self.bie_lambda = DEFAULT_LAMBDA if bie_lambda is None else bie_lambda
        # τ: the most important share kept out of the entropy (the seed's 20 %; its ablation 10-30 %)
        self.top_fraction = DEFAULT_TOP_FRACTION if top_fraction is None else top_fraction
        if not 0 <= self.top_fraction < 1:
            raise ValueError(f"top_fraction={self.top_fraction!r}: expected a fraction in [0, 1)")
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.__name__ = "entra_reward"

    def __call__(self, prompts=None, completions=(), completion_ids=None, answer=(), **_):
        from ..signals.bie import bidirectional_importance, redundancy_score

        rewards = []
        for i, completion in enumerate(completions):
            text = completion_text(completion)
            correct = 1.0 if grade_math(text, str(answer[i]), self.think_end).correct else 0.0
            prompt_ids = policy_prompt_ids(self.tokenizer, prompts[i], self.chat_template_kwargs) if prompts is not None else []
            prompt_ids = prompt_ids or [self.tokenizer.bos_token_id or 0]  # the first completion token needs a context
            ids = list(completion_ids[i]) if completion_ids is not None else self.tokenizer.encode(text, add_special_tokens=False)
            if not ids:
                rewards.append(correct)
                continue
            bie = bidirectional_importance(self.model, prompt_ids, ids, self.bie_lambda)
            rewards.append(correct + self.weight * redundancy_score(ids, bie, self.reading, self.top_fraction))
        return rewards


class CorrectnessReward:
    """1 for a correct answer after the thinking, else 0: ENTRA's reward without its redundancy
    term, the baseline of the BIE reward's overhead (bench/grpo_reward_bench.py)."""

    def __init__(self, think_end: str = DEFAULT_THINK_END):
        self.think_end = think_end
        self.__name__ = "correctness_reward"

    def __call__(self, prompts=None, completions=(), completion_ids=None, answer=(), **_):
        return [1.0 if grade_math(completion_text(c), str(answer[i]), self.think_end).correct else 0.0 for i, c in enumerate(completions)]
