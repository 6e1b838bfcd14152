"""Grading throughput: samples per second through the tasks' own `process_results`.

    python bench/grading_bench.py                 # all rows of math500 + gsm8k, 2,000 of mmlu
    python bench/grading_bench.py --rows 200      # a quicker look

Responses are built from the real rows in $COTBENCH_DATA_DIR in the shapes models write:
a closed thinking part, then a boxed right answer, a boxed wrong one, an answer stated without
a box (the fallback extraction), or no answer at all; MMLU boxes a letter or an option's text.
Target (issue 13): ≥ 200 samples/s on the project's 2 CPU cores, fallback extraction on.

Measured 2026-11-30 on the shared 2-core machine (load average ~17-20 from other jobs, so wall
times are several times an idle machine's; CPU seconds of the grading process are the fair
figure), all 500 math500 + 1319 gsm8k + 2000 mmlu rows, one process:

    this branch  all 3819 samples: 3.75 CPU-s (1020 samples/CPU-s), 18.6 s wall (205 samples/s)
                 math500 212 samples/CPU-s, gsm8k 1030, mmlu 18,998
    main before  all 3819 samples: 4.12 CPU-s (926 samples/CPU-s), 10.2 s wall (374 samples/s)
                 math500 214 samples/CPU-s, gsm8k 782, mmlu 19,847

The fallback extraction gives unboxed responses a math-verify parse instead of "no answer";
integer-vs-integer answers (AIME, GSM8K) skip the LaTeX parser, which more than pays for it.
math-verify's ANTLR LaTeX parser dominates math500.
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


def measure(rows: list[dict], respond, process) -> tuple[int, float, float]:
    """(samples, wall seconds, CPU seconds of this process): on a shared machine the CPU time
    is what an idle core would take; the wall time is what this run took."""
    began, began_cpu = time.perf_counter(), time.process_time()
    for index, row in enumerate(rows):
        process(dict(row), [[respond(row, index)]])
    return len(rows), time.perf_counter() - began, time.process_time() - began_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="rows per benchmark (default: all math500/gsm8k, 2000 mmlu)")
    args = parser.parse_args()
    os.environ.setdefault("COTBENCH_DATA_DIR", "/work/shared/data")
    # Warm-up: math-verify's and sympy's imports and first-call caches are not grading time.
    process_results_math({"id": "w", "answer": "1"}, [["\\boxed{1}"]])
    total_n, total_s, total_cpu = 0, 0.0, 0.0
    print(f"{'':8s} {'samples':>7s} {'wall s':>8s} {'samples/s':>10s} {'CPU s':>8s} {'samples/CPU-s':>14s}")
    for benchmark in ("math500", "gsm8k", "mmlu"):
        rows = load_rows(benchmark)[: args.rows or (2000 if benchmark == "mmlu" else None)]
        if benchmark == "mmlu":
            n, seconds, cpu = measure(rows, mmlu_responses, process_results_mmlu)
        else:
            n, seconds, cpu = measure(rows, lambda row, i: math_responses(row["answer"], i), process_results_math)
        total_n, total_s, total_cpu = total_n + n, total_s + seconds, total_cpu + cpu
        print(f"{benchmark:8s} {n:7d} {seconds:8.2f} {n / seconds:10.1f} {cpu:8.2f} {n / cpu:14.1f}")
    print(f"{'all':8s} {total_n:7d} {total_s:8.2f} {total_n / total_s:10.1f} {total_cpu:8.2f} {total_n / total_cpu:14.1f}"
          "   (target: >= 200 samples/s)")


if __name__ == "__main__":
    main()
