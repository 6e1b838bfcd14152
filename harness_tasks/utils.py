"""What the cot_* task YAMLs cannot say: data loaders, prompts and per-sample results.

process_results turns each generation (with the token accounting the cotbench adapter
attached to it) into the per-sample record that every report is computed from, plus the
numeric fields lm-eval aggregates into its results table.
"""

from __future__ import annotations

from math import comb

from cotbench.harness_tasks.arith import load_arith_dataset
from cotbench.harness_tasks.data import LETTERS, load_dataset_dict
from cotbench.harness_tasks.grading import DEFAULT_THINK_END, grade_choice, grade_math, split_reasoning

# DeepSeek-R1 evaluation protocol (arXiv 2501.12948, §3 "Evaluation Setup").
R1_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
MC_INSTRUCTION = (
    "Please reason step by step, and put your final answer (the letter of the correct option) within \\boxed{}."
)
# pass@k is reported for these k (and for k = number of repeats) when enough repeats exist.
PASS_AT_K = (2, 4, 8, 16, 32, 64)


def load_aime24(**_):
    return load_dataset_dict("aime24")


def load_aime25(**_):
    return load_dataset_dict("aime25")


def load_amc23(**_):
    return load_dataset_dict("amc23")


def load_math500(**_):
    return load_dataset_dict("math500")


def load_gsm8k(**_):
    return load_dataset_dict("gsm8k")


def load_mmlu(**_):
    return load_dataset_dict("mmlu")


def load_arith_easy(**_):
    return load_arith_dataset("easy")


def load_arith_medium(**_):
    return load_arith_dataset("medium")


def load_arith_hard(**_):
    return load_arith_dataset("hard")


def doc_to_text_math(doc: dict) -> str:
    return f"{doc['problem']}\n{R1_INSTRUCTION}"


def doc_to_text_mmlu(doc: dict) -> str:
    options = "\n".join(f"({letter}) {choice}" for letter, choice in zip(LETTERS, doc["choices"]))
    return f"{doc['problem']}\n\n{options}\n\n{MC_INSTRUCTION}"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021, arXiv 2107.03374, eq. 1)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def _generation_record(response, verdict) -> dict:
    """One generation's record: the grader's verdict plus the adapter's token accounting."""
    accounting = dict(getattr(response, "cotbench", None) or {})
    think_end = accounting.get("think_end", DEFAULT_THINK_END)
    _thinking, _answer, closed = split_reasoning(str(response), think_end)
    record = {
        "extracted_answer": verdict.extracted,
        "correct": verdict.correct,
        "reason": verdict.reason,
        "thinking_closed": closed,
    }
    record.update(accounting)
    return record


def _results(doc: dict, results: list, grade) -> dict:
    generations = results[0] if results and isinstance(results[0], list) else list(results)
    think_ends = [(getattr(r, "cotbench", None) or {}).get("think_end", DEFAULT_THINK_END) for r in generations]
    verdicts = [grade(str(r), doc["answer"], end) for r, end in zip(generations, think_ends)]
    records = [_generation_record(r, v) for r, v in zip(generations, verdicts)]
    n = len(records)
    correct = sum(v.correct for v in verdicts)
    out: dict = {"acc": correct / n if n else 0.0}
    for k in sorted({*(k for k in PASS_AT_K if k < n), n} if n > 1 else set()):
        out[f"pass@{k}"] = pass_at_k(n, correct, k)
    if records and all("total_tokens" in r for r in records):
        for name in ("thinking_tokens", "answer_tokens", "probe_tokens", "total_tokens"):
            out[name] = sum(r.get(name, 0) for r in records) / n
        out["truncated"] = sum(bool(r.get("truncated")) for r in records) / n
    out["cotbench"] = {"id": doc.get("id"), "generations": records}
    return out


def process_results_math(doc: dict, results: list) -> dict:
    return _results(doc, results, grade_math)


def process_results_mmlu(doc: dict, results: list) -> dict:
    return _results(doc, results, grade_choice)


def count_records(items: list) -> int:
    """Aggregation of the per-sample `cotbench` record: the number of graded generations."""
    return sum(len(item.get("generations", [])) for item in items)
