"""Any run can be a baseline: a plain lm-eval model's text is counted with its tokenizer (split at the
last end-of-thinking marker, the source recorded), and such a run is the baseline of a cotbench run
in `report` and `compare` through the real CLI, with the mismatch check still applied."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cotbench.harness_tasks.token_counts import counted, tokenizer_name
from cotbench.record import GenerationRecord

TESTBED = str(Path(__file__).resolve().parents[2] / "cot_methods" / "testbed" / "arith_testbed")  # conftest's plain_and_vanilla model


def test_the_tokenizer_is_found_as_lm_eval_finds_it():
    assert tokenizer_name({"pretrained": "a", "tokenizer": "b", "model": "c"}) == "b"
    assert tokenizer_name({"pretrained": "a", "model": "c"}) == "a"
    assert tokenizer_name({"model": "gpt-4o", "base_url": "http://x"}) == "gpt-4o"
    assert tokenizer_name({"version": 1.0}) is None


def test_thinking_is_counted_up_to_the_last_marker():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TESTBED)
    thinking, answer = "12 + 7 = 19.\n\nSo the answer is 19.\n</think>", "\n\n19 apples.\n\n**Final Answer**\n\\boxed{19}"
    record = counted(GenerationRecord(), thinking + answer, TESTBED, "</think>")
    length = len(tokenizer(thinking + answer, add_special_tokens=False)["input_ids"])
    assert record.total_tokens == length and record.probe_tokens == 0
    assert record.thinking_tokens == len(tokenizer(thinking, add_special_tokens=False)["input_ids"])
    assert record.answer_tokens == length - record.thinking_tokens > 0
    assert record.token_source == f"tokenizer {TESTBED}" and record.truncated is None
    # No marker: the testbed's template opens <think>, so an unclosed trace is all thinking.
    open_trace = counted(GenerationRecord(), "12 + 7 = 19.\n\nWait, let me", TESTBED, "</think>")
    assert open_trace.thinking_tokens == open_trace.total_tokens > 0


def test_a_tokenizer_that_does_not_load_leaves_the_counts_empty(caplog):
    record = counted(GenerationRecord(), "some text", "/nonexistent/tokenizer", "</think>")
    assert record.total_tokens is None and record.token_source is None
    assert "tokenizer '/nonexistent/tokenizer' did not load" in caplog.text and "--model_args tokenizer=" in caplog.text


def cotbench(*args):
    return subprocess.run([sys.executable, "-m", "cotbench.cli", *args], capture_output=True, text=True, timeout=600)


def samples(run: Path) -> dict[tuple[str, int], dict]:
    return {(f.name.split("_20")[0], s["doc_id"]): s for f in run.rglob("samples_*.jsonl") for s in map(json.loads, f.open())}


def test_a_plain_lm_eval_run_carries_token_counts_and_their_source(plain_and_vanilla):
    plain, vanilla = plain_and_vanilla
    results = json.loads(next(plain.rglob("results_*.json")).read_text())["results"]["cot_math500"]
    assert results["total_tokens,all"] > 0 and "truncated,all" not in results  # truncation is unknown from text
    plain_samples, vanilla_samples = samples(plain), samples(vanilla)
    assert plain_samples.keys() == vanilla_samples.keys() and len(plain_samples) == 30
    record = lambda sample: sample["doc"]["cotbench"]["generations"][0]  # noqa: E731
    assert {record(s)["token_source"] for s in plain_samples.values()} == {f"tokenizer {TESTBED}"}
    assert {record(s)["token_source"] for s in vanilla_samples.values()} == {"adapter"}
    # Where lm-eval's hf model and our engine wrote the same greedy text (batched padding may move a
    # near tie), re-encoding the text gives the adapter's own counts, up to what text cannot show: a
    # model may write a split its tokenizer would not (".\n\n" as "." and "\n\n"), one token more.
    same = [key for key in plain_samples if plain_samples[key]["resps"] == vanilla_samples[key]["resps"]]
    assert len(same) >= 10
    for count in ("total_tokens", "thinking_tokens"):
        pairs = [(record(plain_samples[key])[count], record(vanilla_samples[key])[count]) for key in same]
        assert all(abs(plain_count - own) <= max(1, 0.02 * own) for plain_count, own in pairs), pairs
        assert sum(plain_count == own for plain_count, own in pairs) >= 0.8 * len(pairs), pairs


def test_a_plain_run_is_the_baseline_in_report_and_compare(plain_and_vanilla, tmp_path):
    plain, vanilla = plain_and_vanilla
    proc = cotbench("report", str(vanilla), "--baseline", str(plain), "-o", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "report" / "report.json").read_text())["summary"]["cot_math500"]
    assert summary["versus_baseline"]["token_reduction"] == pytest.approx(0.0, abs=0.01)  # the same model, greedy
    assert summary["baseline"]["token_sources"] == [f"tokenizer {TESTBED}"] and summary["token_sources"] == ["adapter"]
    assert f"the baseline's by tokenizer {TESTBED}" in (tmp_path / "report" / "report.md").read_text()

    proc = cotbench("compare", str(plain), str(vanilla))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "cot_math500" in proc.stdout and "OK: within bounds" in proc.stdout


def test_a_plain_baseline_made_differently_is_refused(plain_and_vanilla, tmp_path):
    """The mismatch check applies to a plain baseline: here its results file says another --limit."""
    import shutil

    plain, vanilla = plain_and_vanilla
    other = Path(shutil.copytree(vanilla, tmp_path / "other"))
    results_file = next(other.rglob("results_*.json"))
    results = json.loads(results_file.read_text())
    results["config"]["limit"] = 2
    results_file.write_text(json.dumps(results))
    proc = cotbench("compare", str(plain), str(other))
    assert proc.returncode == 2
    assert "limit 10 (baseline) vs 2 (run) on cot_aime25, cot_arith_easy, cot_math500" in proc.stderr.strip().splitlines()[-1]
