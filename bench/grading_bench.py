"""Grading throughput: samples per second through the tasks' own `process_results`.

    python bench/grading_bench.py                 # all rows of math500 + gsm8k, 2,000 of mmlu
    python bench/grading_bench.py --rows 200      # a quicker look

Responses are built from the real rows in $COTBENCH_DATA_DIR in the shapes models write:
a closed thinking part, then a boxed right answer, a boxed wrong one, an answer stated without
a box (the fallback extraction), or no answer at all; MMLU boxes a letter or an option's text.
Target (issue 13): ≥ 200 samples/s on the project's 2 CPU cores, fallback extraction on.
"""

from __future__ import annotations

import argparse
import os
import time

from cotbench.harness_tasks.data import load_rows
from cotbench.harness_tasks.utils import process_results_math, process_results_mmlu

THINKING = "Let me work through this step by step. " * 40 + "</think>\n\n"


def math_responses(gold: str, index: int) -> str:
    shapes = (
        f"{THINKING}The final answer is $\\boxed{{{gold}}}$.",
        f"{THINKING}So the answer is $\\boxed{{{gold} + 1}}$.",
        f"{THINKING}Therefore, the answer is ${gold}$.",
        f"{THINKING}Adding these up, we get 3 + 4 = 7 items in total.",
        "Still thinking " * 50,
    )
    return shapes[index % len(shapes)]


def mmlu_responses(row: dict, index: int) -> str:
    shapes = (
        f"{THINKING}**Final Answer**\n\\boxed{{{row['answer']}}}",
        f"{THINKING}\\boxed{{\\text{{{row['choices'][0]}}}}}",
        f"{THINKING}The answer is ({row['answer']}).",
        "Still thinking " * 50,
    )
    return shapes[index % len(shapes)]


def measure(rows: list[dict], respond, process) -> tuple[int, float]:
    began = time.perf_counter()
    for index, row in enumerate(rows):
        process(dict(row), [[respond(row, index)]])
    return len(rows), time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="rows per benchmark (default: all math500/gsm8k, 2000 mmlu)")
    args = parser.parse_args()
    os.environ.setdefault("COTBENCH_DATA_DIR", "/work/shared/data")
    # Warm-up: math-verify's and sympy's imports and first-call caches are not grading time.
    process_results_math({"id": "w", "answer": "1"}, [["\\boxed{1}"]])
    total_n, total_s = 0, 0.0
    for benchmark in ("math500", "gsm8k", "mmlu"):
        rows = load_rows(benchmark)[: args.rows or (2000 if benchmark == "mmlu" else None)]
        if benchmark == "mmlu":
            n, seconds = measure(rows, mmlu_responses, process_results_mmlu)
        else:
            n, seconds = measure(rows, lambda row, i: math_responses(row["answer"], i), process_results_math)
        total_n, total_s = total_n + n, total_s + seconds
        print(f"{benchmark:8s} {n:5d} samples {seconds:7.2f} s {n / seconds:8.1f} samples/s")
    print(f"{'all':8s} {total_n:5d} samples {total_s:7.2f} s {total_n / total_s:8.1f} samples/s (target >= 200)")


if __name__ == "__main__":
    main()
