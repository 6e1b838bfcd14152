"""What the cot_* task YAMLs cannot say: data loaders, prompts and per-sample results.

process_results turns each generation (with the token accounting the cotbench adapter
attached to it) into the per-sample record that every report is computed from, stored in
the doc lm-eval logs, and returns only the numeric fields lm-eval aggregates into its
results table.
"""

from __future__ import annotations

from cotbench.harness_tasks.arith import load_arith_dataset
from cotbench.harness_tasks.data import LETTERS, load_dataset_dict
from cotbench.harness_tasks.grading import (
    DEFAULT_EXTRACTION,
    DEFAULT_THINK_END,
    REASON_REQUEST_FAILED,
    Verdict,
    check_extraction_mode,
    grade_choice,
    grade_math,
    grade_probe,
    split_reasoning,
)
from cotbench.harness_tasks.overthinking import overthinking_fields
from cotbench.harness_tasks.token_counts import counted, load_tokenizer, tokenizer_name
from cotbench.record import GenerationRecord
from cotbench.reports.statistics import majority_vote, pass_at_k

# DeepSeek-R1 evaluation protocol (arXiv 2501.12948, §3 "Evaluation Setup").
R1_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
MC_INSTRUCTION = (
    "Please reason step by step, and put your final answer (the letter of the correct option) within \\boxed{}."
)
# Key of the per-sample record in the logged doc (read by reports/runs.py).
RECORD_KEY = "cotbench"
# What the sample record keeps of how hard the problem is (harness_tasks/data.py), for the
# per-difficulty breakdown of reports and the leaderboard.
DIFFICULTY_KEYS = ("level", "problem_number")
# pass@k is reported for these k (and for k = number of repeats) when enough repeats exist.
PASS_AT_K = (2, 4, 8, 16, 32, 64)


def load_benchmark(benchmark: str, level: str | None = None, extraction: str = DEFAULT_EXTRACTION, **metadata):
    """The one `custom_dataset` loader of every cot_* task.

    lm-eval calls it with the task's `dataset_kwargs` (`benchmark`, and `level` for the
    synthetic cot_arith family) and the run's `--metadata`, into which it merges the
    `--model_args` (task options such as `{"extraction": "strict"}`; `version` and the like
    are ignored). The extraction mode and the tokenizer the model arguments name are stored in
    every row, so `process_results` grades with the one and counts a plain lm-eval model's
    tokens with the other, and the logged sample says which.
    """
    check_extraction_mode(extraction)
    dataset = load_arith_dataset(level) if benchmark == "arith" else load_dataset_dict(benchmark)
    test = dataset["test"]
    for column, value in (("extraction", extraction), ("tokenizer", tokenizer_name(metadata))):
        if column in test.column_names:
            test = test.remove_columns(column)
        test = test.add_column(column, [value] * len(test))
    dataset["test"] = test
    return dataset


def doc_to_text_math(doc: dict) -> str:
    return f"{doc['problem']}\n{R1_INSTRUCTION}"


def doc_to_text_mmlu(doc: dict) -> str:
    options = "\n".join(f"({letter}) {choice}" for letter, choice in zip(LETTERS, doc["choices"]))
    return f"{doc['problem']}\n\n{options}\n\n{MC_INSTRUCTION}"


def _adapter_record(response) -> GenerationRecord:
    """The cotbench adapter's record of a generation (an empty one for a plain lm-eval model)."""
    record = getattr(response, "cotbench", None)
    return record if isinstance(record, GenerationRecord) else GenerationRecord()


def _results(doc: dict, results: list, grade) -> dict:
    generations = results[0] if results and isinstance(results[0], list) else list(results)
    extraction = doc.get("extraction") or DEFAULT_EXTRACTION
    records = []
    for response in generations:
        record = _adapter_record(response)
        think_end = record.think_end or DEFAULT_THINK_END
        if record.adapter:
            record.token_source = "adapter"
        else:  # a plain lm-eval model: count its text with the model's tokenizer
            record = counted(record, str(response), doc.get("tokenizer"), think_end)
        if record.finish_reason == "error":  # the backend failed for good: nothing to grade
            verdict = Verdict(False, None, REASON_REQUEST_FAILED)
        else:
            verdict = grade(str(response), doc, think_end, extraction, record.truncated)
        thinking, _answer, marked = split_reasoning(str(response), think_end)
        thinks = record.adapter.get("model_thinks") is not False
        # A model whose template has no thinking (our adapters record it) never leaves thinking
        # open; for other models the marker must be there.
        closed = marked or not thinks
        if not marked and thinks:
            thinking = str(response)  # thinking that never closed (cut by the length limit) is all of it
        records.append(record.graded(verdict.extracted, verdict.correct, verdict.reason, closed, verdict.extracted_by))
        if grade is _grade_math:
            _grade_probe_answers(records[-1], doc["answer"])
            # An adapter names the folder its tokenizer loaded from; a plain model, its model arguments.
            source = record.adapter.get("tokenizer") or doc.get("tokenizer")
            tokenizer = load_tokenizer(source, warn=not record.adapter) if source else None
            for name, value in overthinking_fields(thinking, doc["answer"], records[-1].thinking_tokens, tokenizer).items():
                setattr(records[-1], name, value)
    n = len(records)
    correct = sum(r.correct for r in records)
    # acc_closed (issue 13 item 3, lm-eval issue #3382): a generation whose thinking never
    # closed counts wrong, so a truncated trace that happens to hold a box is not "solved".
    closed_correct = sum(bool(r.correct and r.thinking_closed) for r in records)
    out: dict = {"acc": correct / n if n else 0.0, "acc_closed": closed_correct / n if n else 0.0}
    for k in sorted({*(k for k in PASS_AT_K if k < n), n} if n > 1 else set()):
        out[f"pass@{k}"] = pass_at_k(n, correct, k)
    if n > 1:  # maj@k over all k generations, with the reports' own vote (reports/statistics.py)
        out[f"maj@{n}"] = float(majority_vote([r.extracted_answer for r in records], [bool(r.correct) for r in records]))
    if records and all(r.total_tokens is not None for r in records):
        for name in ("thinking_tokens", "answer_tokens", "probe_tokens", "total_tokens"):
            out[name] = sum(getattr(r, name) or 0 for r in records) / n
    if records and all(r.truncated is not None for r in records):  # unknown for a plain model's text
        out["truncated"] = sum(bool(r.truncated) for r in records) / n
    # The per-sample record rides in the logged doc: lm-eval logs the doc object it passed
    # here (`samples_<task>.jsonl`: sample["doc"]["cotbench"]), while every key returned below
    # becomes a metric row of its results table, so only real metrics are returned.
    difficulty = {key: doc[key] for key in DIFFICULTY_KEYS if doc.get(key) is not None}
    doc[RECORD_KEY] = {"id": doc.get("id"), **difficulty, "generations": [r.to_json() for r in records]}
    return out


def _grade_probe_answers(record: GenerationRecord, gold: str) -> None:
    """Grade what each answer probe said, so a report can ask whether the probe's entropy
    predicted its correctness (AUROC, reports/metrics.py). `entropy` is the mean full-vocabulary
    entropy over the probe's decoded tokens (EntroCut's default score; recorded for every method
    that probes). Probes that are not answer probes (no "}" closing a box) get no verdict."""
    for probe in record.probes:
        text, entropies = probe.get("probe_text"), probe.get("entropies")
        if not isinstance(text, str) or not entropies:
            continue
        answer, correct = grade_probe(text, gold)
        if answer is None:
            continue
        probe.update(answer=answer, answer_correct=correct, entropy=sum(entropies) / len(entropies))


def _grade_math(response: str, doc: dict, think_end: str, extraction: str, truncated: bool | None):
    return grade_math(response, doc["answer"], think_end, extraction, truncated)


def _grade_mmlu(response: str, doc: dict, think_end: str, extraction: str, truncated: bool | None):
    # A letter is only ever read from a statement, never guessed from cut-off text: nothing to mark.
    return grade_choice(response, doc["answer"], think_end, extraction, choices=doc.get("choices"))


def process_results_math(doc: dict, results: list) -> dict:
    return _results(doc, results, _grade_math)


def process_results_mmlu(doc: dict, results: list) -> dict:
    return _results(doc, results, _grade_mmlu)
