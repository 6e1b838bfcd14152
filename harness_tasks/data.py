"""Benchmark rows for the cot_* tasks: the Hugging Face hub by default, a local mirror when
`COTBENCH_DATA_DIR` names a directory of `<benchmark>/test.jsonl` files.

Both sources are normalised to one schema — `id`, `problem`, `answer` (a string) and, for
MMLU and GPQA-Diamond, `choices` (four strings) and `answer` as a letter — so the prompts and the
grader never care where a row came from. GPQA's sources (the hub and a mirror file alike) give the
correct answer and `incorrect_answers`; `shuffled_options` makes the lettered options. What says how hard a problem is stays with it: MATH-500's `level`
(1–5) and an AIME or AMC problem's `problem_number` in its contest, so reports can break
accuracy and tokens down by difficulty.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from cotbench.errors import CotbenchError

DATA_DIR_ENV = "COTBENCH_DATA_DIR"
LETTERS = "ABCD"


@dataclass(frozen=True)
class HubSource:
    """Where a benchmark lives on the hub and how its fields map onto our schema."""

    path: str
    split: str
    name: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # ours -> theirs


HUB_SOURCES: dict[str, HubSource] = {
    "aime24": HubSource("HuggingFaceH4/aime_2024", "train", fields={"id": "id", "problem": "problem", "answer": "answer"}),
    "aime25": HubSource("MathArena/aime_2025", "train", fields={"id": "problem_idx", "problem": "problem", "answer": "answer"}),
    "amc23": HubSource("math-ai/amc23", "test", fields={"id": "id", "problem": "question", "answer": "answer"}),
    "math500": HubSource("HuggingFaceH4/MATH-500", "test", fields={"id": "unique_id", "problem": "problem", "answer": "answer"}),
    "gsm8k": HubSource("openai/gsm8k", "test", name="main", fields={"problem": "question", "answer": "answer"}),
    "mmlu": HubSource("cais/mmlu", "test", name="all", fields={"problem": "question", "choices": "choices", "answer": "answer", "subject": "subject"}),
    # Gated: accept its terms on the hub and log in (`hf auth login`) once. Its only split is `train`.
    "gpqa_diamond": HubSource("Idavidrein/gpqa", "train", name="gpqa_diamond",
                              fields={"id": "Record ID", "problem": "Question", "answer": "Correct Answer", "subject": "High-level domain"}),
}
GPQA_INCORRECT = ("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
BENCHMARKS = tuple(HUB_SOURCES)


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSONL file; a malformed line is one error naming the file and line number."""
    if not path.is_file():
        raise CotbenchError(f"benchmark file not found: {path} (set {DATA_DIR_ENV} to a directory holding <benchmark>/test.jsonl)")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise CotbenchError(f"{path}:{line_number}: malformed JSON line ({error.msg})") from None
            if not isinstance(row, dict) or "problem" not in row or "answer" not in row:
                raise CotbenchError(f"{path}:{line_number}: expected an object with 'problem' and 'answer'")
            rows.append(row)
    return rows


def _normalise_hub_row(benchmark: str, row: dict, index: int) -> dict:
    source = HUB_SOURCES[benchmark]
    out = {ours: row[theirs] for ours, theirs in source.fields.items() if theirs in row}
    out.setdefault("id", f"{benchmark}-{index:05d}")
    out["id"] = str(out["id"])
    answer = out["answer"]
    if benchmark == "gsm8k":  # the gold is the text after "####", commas removed
        answer = str(answer).split("####")[-1].strip().replace(",", "")
    elif benchmark == "mmlu" and isinstance(answer, int):
        answer = LETTERS[answer]
    out["answer"] = str(answer)
    if benchmark == "gpqa_diamond":
        out["incorrect_answers"] = [row[field] for field in GPQA_INCORRECT]
        return shuffled_options(out)
    return out


def shuffled_options(row: dict) -> dict:
    """A GPQA row as four lettered options, shuffled with the question's own seed: its id.

    GPQA stores the correct answer apart from three incorrect ones, so the order the model sees is
    ours to make; every evaluator shuffles (the GPQA paper, lm-eval's gpqa tasks, simple-evals).
    Seeding with the id (Python's `random` hashes a string seed with SHA-512, the same on every
    machine and run) gives each question one fixed order, whatever rows are loaded with it or in
    which order, so runs of different methods see the same options. `answer` becomes the letter of
    the correct option, and the row is then graded exactly like MMLU."""
    options = [str(row["answer"]).strip(), *(str(text).strip() for text in row["incorrect_answers"])]
    order = list(range(len(options)))
    random.Random(f"gpqa_diamond:{row['id']}").shuffle(order)
    out = {key: value for key, value in row.items() if key != "incorrect_answers"}
    out["choices"] = [options[i] for i in order]
    out["answer"] = LETTERS[order.index(0)]
    return out


def _normalise_mirror_row(benchmark: str, row: dict, path: Path, line: int) -> dict:
    row = dict(row)
    row["answer"] = str(row["answer"])
    row["id"] = str(row.get("id", f"{benchmark}-{line:05d}"))
    if benchmark == "mmlu":
        choices = row.get("choices")
        if not (isinstance(choices, list) and len(choices) == 4) or row["answer"] not in LETTERS:
            raise CotbenchError(f"{path}: row {row['id']} needs four 'choices' and an answer letter A-D")
    if benchmark == "gpqa_diamond":
        incorrect = row.get("incorrect_answers")
        if not (isinstance(incorrect, list) and len(incorrect) == 3 and all(isinstance(x, str) and x.strip() for x in incorrect)):
            raise CotbenchError(f"{path}: row {row['id']} needs 'incorrect_answers', a list of three non-empty strings, beside the correct 'answer'")
        return shuffled_options(row)
    return row


# AIME and AMC problems grow harder with their number; the sources name it in an AoPS wiki `url`
# (".../2024_AIME_I_Problems/Problem_10"), MathArena's AIME 2025 by `problem_idx` 1–30 (I-1…I-15,
# II-1…II-15), our mirror's AIME 2025 by its order (the same; PROVENANCE.md).
PROBLEM_URL = re.compile(r"Problem_(\d+)\b")
CONTESTS = ("aime24", "aime25", "amc23")
AIME_PROBLEMS = 15


def difficulty_fields(benchmark: str, row: dict, index: int) -> dict:
    """{"level": 1–5} for MATH-500, {"problem_number": n} for AIME and AMC, from the source row
    (a mirror row may carry `problem_number` itself); {} when the row does not say."""
    if benchmark == "math500" and row.get("level") is not None:
        return {"level": int(row["level"])}
    if benchmark not in CONTESTS:
        return {}
    if row.get("problem_number") is not None:
        return {"problem_number": int(row["problem_number"])}
    match = PROBLEM_URL.search(str(row.get("url") or ""))
    if match:
        return {"problem_number": int(match[1])}
    if benchmark == "aime25":
        position = int(row["problem_idx"]) - 1 if row.get("problem_idx") is not None else index
        return {"problem_number": position % AIME_PROBLEMS + 1}
    return {}


def load_rows(benchmark: str) -> list[dict]:
    """All test rows of `benchmark` in our schema, from the mirror if configured."""
    if benchmark not in HUB_SOURCES:
        raise CotbenchError(f"unknown benchmark {benchmark!r}: expected one of {', '.join(BENCHMARKS)}")
    mirror = os.environ.get(DATA_DIR_ENV)
    if mirror:
        path = Path(mirror) / benchmark / "test.jsonl"
        return [{**_normalise_mirror_row(benchmark, row, path, i), **difficulty_fields(benchmark, row, i)} for i, row in enumerate(read_jsonl(path))]
    import datasets

    source = HUB_SOURCES[benchmark]
    hub_rows = datasets.load_dataset(source.path, source.name, split=source.split)
    return [{**_normalise_hub_row(benchmark, dict(row), i), **difficulty_fields(benchmark, dict(row), i)} for i, row in enumerate(hub_rows)]


def load_dataset_dict(benchmark: str):
    """A `datasets.DatasetDict` with one `test` split, as lm-eval's `custom_dataset` expects."""
    import datasets

    rows = load_rows(benchmark)
    # Mixed optional columns (solution, subject, …) differ between sources; keep the schema
    # fields plus whatever every row has.
    common = set(rows[0]).intersection(*rows[1:]) if rows else set()
    return datasets.DatasetDict({"test": datasets.Dataset.from_list([{k: row[k] for k in sorted(common)} for row in rows])})
