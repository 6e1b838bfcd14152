"""Read one lm-eval output directory (results JSON + samples JSONL) into plain records.

Everything downstream — metrics, reports, the leaderboard, the regression gate — is computed
from these files only, never from anything an adapter keeps on the side. Bad or partial
output is one CotbenchError naming the file and what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cotbench.errors import CotbenchError
from cotbench.record import GenerationRecord
from cotbench.repeats import split_repeats


@dataclass
class Sample:
    sample_id: str
    generations: list[GenerationRecord]
    difficulty: str | None = None  # "level 3" (MATH-500), "problems 6–10" (AIME, AMC), None: not recorded

    @property
    def accuracy(self) -> float:
        return sum(g.correct for g in self.generations) / len(self.generations)


# model_args that say how a model is loaded or run, not what the method does.
LOADING_ARGS = frozenset(
    {"pretrained", "gguf_file", "dtype", "torch_dtype", "device", "device_map", "batch_size", "max_batch_size",
     "trust_remote_code", "revision", "parallelize", "attn_implementation", "low_cpu_mem_usage", "journal", "chat_template"}
)


@dataclass
class Run:
    path: Path
    model: str  # the `pretrained` model
    adapter: str  # lm-eval's --model, e.g. cotbench-entrocut
    model_args: str
    config: dict
    versions: dict
    tasks: dict[str, list[Sample]] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.adapter.removeprefix("cotbench-")

    @property
    def setting(self) -> str:
        """The method's own arguments (e.g. "threshold=0.3"): what tells apart two runs of one
        method on one model, such as the points of a threshold sweep."""
        pairs = [part.split("=", 1) for part in self.model_args.split(",") if "=" in part]
        return ",".join(f"{key}={value}" for key, value in pairs if key.strip() not in LOADING_ARGS)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CotbenchError(f"{path}: not valid JSON ({error.msg} at line {error.lineno}); truncated or not an lm-eval results file?") from None
    if not isinstance(data, dict) or "results" not in data or "config" not in data:
        raise CotbenchError(f"{path}: not an lm-eval results file (expected keys 'results' and 'config')")
    return data


def _generation(raw: dict, where: str) -> GenerationRecord:
    if not isinstance(raw, dict) or "correct" not in raw:
        raise CotbenchError(f"{where}: generation record without 'correct' (not produced by a cot_* task?)")
    return GenerationRecord.from_json(raw)


def _read_samples(path: Path) -> list[Sample]:
    samples = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_number}"
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as error:
                raise CotbenchError(f"{where}: malformed sample line ({error.msg}); truncated file?") from None
            # The record is in the logged doc (harness_tasks/utils.py); top level in older runs.
            doc = raw.get("doc") if isinstance(raw, dict) else None
            record = (doc.get("cotbench") if isinstance(doc, dict) else None) or (raw.get("cotbench") if isinstance(raw, dict) else None)
            if not isinstance(record, dict) or not record.get("generations"):
                raise CotbenchError(f"{where}: sample without a 'cotbench' record (run a cot_* task with --log_samples)")
            sample_id = str(record.get("id") if record.get("id") is not None else raw.get("doc_id"))
            samples.append(Sample(sample_id, [_generation(g, where) for g in record["generations"]], difficulty(record)))
    return samples


# AIME and AMC problems are grouped five numbers at a time (cotbench's grouping: the contests
# grow harder with the number, and five keeps AIME's 30 problems at 10 a group).
PROBLEM_BAND = 5


def difficulty(record: dict) -> str | None:
    """The difficulty group of a sample record: MATH-500's level, or an AIME / AMC problem's band
    (cot_arith's "easy" / "medium" / "hard" are tasks of their own, not groups within one)."""
    if isinstance(record.get("level"), int):
        return f"level {record['level']}"
    number = record.get("problem_number")
    if not isinstance(number, int):
        return None
    low = (number - 1) // PROBLEM_BAND * PROBLEM_BAND + 1
    return f"problems {low}–{low + PROBLEM_BAND - 1}"


def _latest(files: list[Path]) -> Path:
    return sorted(files, key=lambda p: p.name)[-1]


def load_run(path: str | Path) -> Run:
    """Load the newest results file under `path` (an --output_path folder) and its samples."""
    root = Path(path)
    if not root.exists():
        raise CotbenchError(f"run directory not found: {root}")
    results_files = list(root.rglob("results_*.json")) if root.is_dir() else [root]
    if not results_files:
        raise CotbenchError(f"{root}: no lm-eval results_*.json found (did the run finish? use --output_path)")
    results_path = _latest(results_files)
    data = _read_json(results_path)
    stamp = results_path.stem.removeprefix("results_")
    config = data.get("config", {})
    model_args = config.get("model_args") or ""
    if isinstance(model_args, dict):
        model_args = ",".join(f"{k}={v}" for k, v in model_args.items())
    pretrained = next((part.split("=", 1)[1] for part in str(model_args).split(",") if part.startswith("pretrained=")), None)
    run = Run(
        path=results_path.parent,
        model=pretrained or str(data.get("model_name") or config.get("model") or "unknown"),
        adapter=str(config.get("model") or "unknown"),
        model_args=str(model_args),
        config=data,
        versions={"lm_eval": data.get("lm_eval_version"), "git_hash": data.get("git_hash")},
    )
    task_names = [t for t in data["results"] if t in data.get("configs", {})] or list(data["results"])
    for task in task_names:
        if task in data.get("group_subtasks", {}) and data["group_subtasks"][task]:
            continue  # a group: its subtasks carry the samples
        sample_files = list(results_path.parent.glob(f"samples_{task}_{stamp}.jsonl"))
        if not sample_files:
            raise CotbenchError(f"{results_path.parent}: no samples_{task}_{stamp}.jsonl (rerun with --log_samples); partial output?")
        samples = _read_samples(sample_files[0])
        expected = data.get("n-samples", {}).get(task, {}).get("effective")
        if expected is not None and len(samples) != expected:
            raise CotbenchError(f"{sample_files[0]}: {len(samples)} samples but the results file says {expected}; partial output?")
        _, repeats = split_repeats(task)  # a `cotbench eval --repeats N` task: N generations per sample
        short = next((s for s in samples if repeats and len(s.generations) != repeats), None)
        if short is not None:
            raise CotbenchError(f"{sample_files[0]}: sample {short.sample_id} has {len(short.generations)} generations but {task} asks for {repeats}; partial output?")
        run.tasks[task] = samples
    if not run.tasks:
        raise CotbenchError(f"{results_path}: no tasks with samples")
    return run


# Decoding settings that change what a model generates (issue 13 item 4): a method and its
# baseline must agree on each. Each maps "not set" to its neutral value, so that an explicit
# default (top_p=1.0) equals an absent one; top_k 0 (HF) and -1 (vLLM) both mean "no top-k".
DECODING_NEUTRAL = {"temperature": 0.0, "top_p": 1.0, "top_k": None, "min_p": 0.0, "presence_penalty": 0.0,
                    "repetition_penalty": 1.0, "max_gen_toks": None}


def _as_number(value):
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


# The record's names for lm-eval's generation_kwargs (loop/row.py's `decoding_record`).
RECORDED_NAMES = {"max_new_tokens": "max_gen_toks"}
CONFIGURED_NOTE = "as configured (generation_kwargs): no cotbench records, e.g. a plain lm-eval model, whose own defaults may differ"


def recorded_decoding(run: Run, task: str) -> dict | None:
    """The decoding that ran on `task`, as the adapter recorded it with each sample
    (`adapter.decoding`: protocol=paper's published decoding included), in lm-eval's names; None
    for a run without cotbench records."""
    for sample in run.tasks.get(task, []):
        for generation in sample.generations:
            decoding = generation.adapter.get("decoding")
            if decoding:
                return {RECORDED_NAMES.get(key, key): value for key, value in decoding.items()}
    return None


def comparison_settings(run: Run, task: str) -> dict[str, object]:
    """What must be equal for `run` and a baseline to be compared on `task`: the model, the
    task's version, the --limit, and the decoding that ran (what each sample's record says: an
    adapter's protocol can override lm-eval's configuration). Only a run without cotbench records
    falls back to lm-eval's configured generation_kwargs (the task's, with --gen_kwargs)."""
    generation = recorded_decoding(run, task)
    if generation is None:
        generation = dict(run.config.get("configs", {}).get(task, {}).get("generation_kwargs") or {})
    if generation.get("do_sample") is False:
        generation["temperature"] = 0.0  # greedy whatever temperature says (how every backend reads it)
    settings: dict[str, object] = {"model": run.model, "task version": run.config.get("versions", {}).get(task),
                                   "limit": _as_number(run.config.get("config", {}).get("limit"))}
    for key, neutral in DECODING_NEUTRAL.items():
        value = _as_number(generation.get(key))
        if key == "top_k" and value in (0, -1):
            value = None
        settings[key] = neutral if value is None else value
    return settings


def setting_mismatches(run: Run, baseline: Run, task: str) -> list[str]:
    """One "setting: baseline value vs run value" per setting that differs on `task`."""
    ours, theirs = comparison_settings(run, task), comparison_settings(baseline, task)
    return [f"{key} {_shown(theirs[key])} (baseline) vs {_shown(ours[key])} (run)" for key in ours if ours[key] != theirs[key]]


def _shown(value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}"
    return repr(value)


def check_comparable(run: Run, baseline: Run, allow_mismatch: bool = False) -> dict[str, list[str]]:
    """{task: mismatches} for the tasks both runs have. A mismatch is a CotbenchError naming
    every differing setting and both values, unless `allow_mismatch` (then the caller shows
    the returned mismatches as a warning beside the numbers)."""
    common = sorted(set(run.tasks) & set(baseline.tasks))
    if not common:
        raise CotbenchError(f"no task in common: run has {sorted(run.tasks)}, baseline has {sorted(baseline.tasks)}")
    mismatches = {task: setting_mismatches(run, baseline, task) for task in common}
    if not allow_mismatch and any(mismatches.values()):
        differing: dict[str, list[str]] = {}
        for task, found in mismatches.items():
            for text in found:
                differing.setdefault(text, []).append(task)
        parts = [f"{text} on {', '.join(tasks)}" for text, tasks in differing.items()]
        kind = "a different model" if run.model != baseline.model else "different settings"
        raise CotbenchError(f"baseline {baseline.path} was run with {kind}: {'; '.join(parts)}{_configured_note(run, baseline, common)} "
                            "(compare runs made alike, or pass --allow-mismatch to show the numbers with a warning)")
    return mismatches


def _configured_note(run: Run, baseline: Run, tasks: list[str]) -> str:
    """"; decoding of the baseline as configured …" where a side has no recorded decoding."""
    sides = [name for name, which in (("the baseline", baseline), ("the run", run)) if any(recorded_decoding(which, t) is None for t in tasks)]
    return f"; decoding of {' and '.join(sides)} {CONFIGURED_NOTE}" if sides else ""
