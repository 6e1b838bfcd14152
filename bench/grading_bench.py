"""Grading throughput: samples per second through the tasks' own `process_results`.

    python bench/grading_bench.py                 # all rows of math500 + gsm8k, 2,000 of mmlu
    python bench/grading_bench.py --rows 200      # a quicker look

Responses are built from the real rows in $COTBENCH_DATA_DIR in the shapes models write:
a closed thinking part, then a boxed right answer, a boxed wrong one, an answer stated without
a box (the fallback extraction), or no answer at all; MMLU boxes a letter or an option's text.
The `gsm8k-style` row grades GSM8K's own reference solutions (calculator annotations removed)
as a model without thinking writes them: the worked lines, then the answer as "#### n",
"The answer is n.", "Answer: n", a box, only the last line's number, or cut off mid-solution,
some with an earlier "answer" phrase that must not be read (issue 27).
Targets: ≥ 200 samples/s on the project's 2 CPU cores, fallback extraction on (issue 13);
≥ 1,000 samples per CPU-second on the gsm8k and gsm8k-style rows (issue 27).
Figures, with the command and the machine's load: bench/RESULTS.md ("Grading").
"""

from __future__ import annotations

import argparse
import os
import re
import time

from cotbench.harness_tasks.data import load_rows
from cotbench.harness_tasks.utils import process_results_math, process_results_mmlu
from cotbench.record import GenerationRecord, GenerationText

THINKING = "Let me work through this step by step. " * 40 + "</think>\n\n"
# GSM8K's calculator annotations, "<<48/2=24>>", are not model text.
_CALCULATOR = re.compile(r"<<[^>]*>>")
# Earlier phrases with the word "answer" that state nothing (shapes of the GSM8K outputs that
# misled the old fallback, issue 27).
DISTRACTORS = (
    "The test has 10 long answer questions: 5 of them are worth 2 points.",
    "She has to answer 70 - 36 = 34 questions first.",
    "To express the answer as a percentage: 90 / 30 * 100 % = 50 %.",
)


def math_responses(gold: str, index: int) -> str:
    shapes = (
        f"{THINKING}The final answer is $\\boxed{{{gold}}}$.",
        f"{THINKING}So the answer is $\\boxed{{{gold} + 1}}$.",
        f"{THINKING}Therefore, the answer is ${gold}$.",
        f"{THINKING}Adding these up, we get 3 + 4 = 7 items in total.",
        "Still thinking " * 50,
    )
    return shapes[index % len(shapes)]


def gsm8k_style_responses(row: dict, index: int) -> str:
    """A GSM8K reference solution ending in one of the ways models state (or fail to state) it;
    the cut-off one carries the adapter's record of hitting the length limit."""
    solution = _CALCULATOR.sub("", row.get("solution") or f"So the total is {row['answer']}.\n#### {row['answer']}")
    lines = [line for line in solution.splitlines() if not line.startswith("####")]
    # Every final form meets every distractor (and none), placed after the first worked line.
    distractor = ("", *DISTRACTORS)[(index // 6) % (len(DISTRACTORS) + 1)]
    work, gold = "\n".join(lines[:1] + [distractor] * bool(distractor) + lines[1:]), row["answer"]
    shapes = (
        f"{work}\n#### {gold}",
        f"{work}\nThe answer is {gold}.",
        f"{work}\nAnswer: {gold}",
        f"{work}\nSo the answer is $\\boxed{{{gold}}}$.",
        work,  # no statement: the last line's number
    )
    if index % (len(shapes) + 1) == len(shapes):  # cut off mid-solution by the token limit
        return GenerationText(work[: len(work) // 2], GenerationRecord(truncated=True, finish_reason="length"))
    return shapes[index % (len(shapes) + 1)]


def mmlu_responses(row: dict, index: int) -> str:
    shapes = (
        f"{THINKING}**Final Answer**\n\\boxed{{{row['answer']}}}",
        f"{THINKING}\\boxed{{\\text{{{row['choices'][0]}}}}}",
        f"{THINKING}The answer is ({row['answer']}).",
        "Still thinking " * 50,
    )
    return shapes[index % len(shapes)]


def measure(rows: list[dict], respond, process) -> tuple[list[dict], float, float]:
    """(graded records, wall seconds, CPU seconds of this process): on a shared machine the CPU
    time is what an idle core would take; the wall time is what this run took."""
    docs = [dict(row) for row in rows]
    began, began_cpu = time.perf_counter(), time.process_time()
    for index, (row, doc) in enumerate(zip(rows, docs)):
        process(doc, [[respond(row, index)]])
    seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    return [doc["cotbench"]["generations"][0] for doc in docs], seconds, cpu


def gsm8k_style_check(records: list[dict]) -> str:
    """How the gsm8k-style outputs were read (by shape, as `gsm8k_style_responses` cycles them):
    a stated answer must be read; the last line's number is the answer only where GSM8K's
    solution ends on it; a cut-off output shows what it was graded from."""
    def shape(kind: range) -> list[dict]:
        return [record for i, record in enumerate(records) if i % 6 in kind]

    stated, last_line, cut_off = shape(range(4)), shape(range(4, 5)), shape(range(5, 6))
    sources = sorted({str(r["extracted_by"]) for r in cut_off})
    by_source = ", ".join(f"{s} {sum(str(r['extracted_by']) == s for r in cut_off)}" for s in sources)
    return (f"gsm8k-style: stated answer read in {sum(r['correct'] for r in stated)} / {len(stated)} outputs, "
            f"last line's number in {sum(r['correct'] for r in last_line)} / {len(last_line)}; "
            f"cut-off outputs graded from: {by_source} (correct {sum(r['correct'] for r in cut_off)} / {len(cut_off)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="rows per benchmark (default: all math500/gsm8k, 2000 mmlu)")
    args = parser.parse_args()
    os.environ.setdefault("COTBENCH_DATA_DIR", "/work/shared/data")
    # Warm-up: math-verify's and sympy's imports and first-call caches are not grading time.
    process_results_math({"id": "w", "answer": "1"}, [["\\boxed{1}"]])
    process_results_math({"id": "w", "answer": "1"}, [["So 1 + 0 = 1 in total."]])
    runs = {
        "math500": (lambda row, i: math_responses(row["answer"], i), process_results_math),
        "gsm8k": (lambda row, i: math_responses(row["answer"], i), process_results_math),
        "gsm8k-style": (gsm8k_style_responses, process_results_math),
        "mmlu": (mmlu_responses, process_results_mmlu),
    }
    total_n, total_s, total_cpu, check = 0, 0.0, 0.0, ""
    print(f"{'':11s} {'samples':>7s} {'wall s':>8s} {'samples/s':>10s} {'CPU s':>8s} {'samples/CPU-s':>14s}")
    for name, (respond, process) in runs.items():
        benchmark = name.split("-")[0]
        rows = load_rows(benchmark)[: args.rows or (2000 if benchmark == "mmlu" else None)]
        records, seconds, cpu = measure(rows, respond, process)
        n = len(records)
        if name == "gsm8k-style":
            check = gsm8k_style_check(records)
        total_n, total_s, total_cpu = total_n + n, total_s + seconds, total_cpu + cpu
        print(f"{name:11s} {n:7d} {seconds:8.2f} {n / seconds:10.1f} {cpu:8.2f} {n / cpu:14.1f}")
    print(f"{'all':11s} {total_n:7d} {total_s:8.2f} {total_n / total_s:10.1f} {total_cpu:8.2f} {total_n / total_cpu:14.1f}"
          "   (targets: >= 200 samples/s overall; >= 1000 samples/CPU-s on gsm8k and gsm8k-style)")
    print(check)


if __name__ == "__main__":
    main()
