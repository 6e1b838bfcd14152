"""Per-sample results: verdicts, avg@k, unbiased pass@k and the adapter's token accounting."""

import pytest

from cotbench.errors import CotbenchError
from cotbench.harness_tasks.utils import load_benchmark, process_results_math, process_results_mmlu
from cotbench.record import GenerationRecord, GenerationText
from cotbench.reports.statistics import pass_at_k


def test_pass_at_k_matches_the_combinatorial_definition():
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 4, 2) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - 3 / 6)  # 1 - C(3,2)/C(4,2)
    assert pass_at_k(5, 2, 4) == 1.0  # fewer than k wrong samples


def _gen(text, thinking, answer, truncated=False):
    return GenerationText(text, GenerationRecord(thinking_tokens=thinking, answer_tokens=answer, probe_tokens=0,
                                                 total_tokens=thinking + answer, truncated=truncated, adapter={"method": "test"}))


def test_repeats_give_avg_and_pass_at_k_and_token_means():
    doc = {"id": "x", "problem": "p", "answer": "6"}
    gens = [_gen("t</think>\\boxed{6}", 10, 5), _gen("t</think>\\boxed{7}", 30, 5, True),
            _gen("t</think>\\boxed{6}", 20, 5), _gen("nothing", 40, 0, True)]
    out = process_results_math(doc, [gens])
    assert "cotbench" not in out  # only real metrics; the record is in the logged doc
    assert out["acc"] == 0.5
    assert out["pass@2"] == pytest.approx(1 - 1 / 6) and out["pass@4"] == 1.0
    assert out["thinking_tokens"] == 25 and out["total_tokens"] == 28.75 and out["truncated"] == 0.5
    records = doc["cotbench"]["generations"]
    assert [r["reason"] for r in records] == ["correct", "mismatch", "correct", "no_answer"]
    assert records[1]["extracted_answer"] == "7" and records[1]["truncated"] is True
    assert doc["cotbench"]["id"] == "x"


def test_plain_strings_are_graded_without_token_metrics():
    out = process_results_mmlu({"id": "m", "answer": "B", "choices": list("abcd")}, [["\\boxed{B}"]])
    assert out["acc"] == 1.0 and "total_tokens" not in out and "pass@1" not in out


def test_the_record_round_trips_through_its_json():
    """One record type for every writer and reader: what lm-eval logs reads back equal."""
    doc = {"id": "x", "problem": "p", "answer": "6"}
    gen = _gen("t</think>\\boxed{6}", 10, 5)
    gen.cotbench.method_fields["skip_ratio"] = 0.5
    process_results_math(doc, [[gen]])
    [logged] = doc["cotbench"]["generations"]
    assert logged["skip_ratio"] == 0.5 and logged["correct"] is True and logged["thinking_tokens"] == 10
    assert GenerationRecord.from_json(logged).to_json() == logged


def test_acc_closed_counts_unclosed_thinking_wrong():
    """A truncated trace that happens to hold the right box is correct for acc, wrong for acc_closed."""
    doc = {"id": "x", "problem": "p", "answer": "6"}
    gens = [_gen("t</think>\\boxed{6}", 10, 5), _gen("t \\boxed{6} and still thinking", 40, 0, True)]
    out = process_results_math(doc, [gens])
    assert out["acc"] == 1.0 and out["acc_closed"] == 0.5
    records = doc["cotbench"]["generations"]
    assert [r["thinking_closed"] for r in records] == [True, False]
    assert [r["extracted_by"] for r in records] == ["box", "box"]


def test_a_generation_cut_off_by_the_length_limit_is_graded_apart():
    """The adapter's `truncated` reaches the grader: an unstated answer read from cut-off work is
    recorded as `truncated_tail`, and strict extraction gives it no answer (issue 27)."""
    cut_off = "She sells 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18"
    docs = [{"id": "x", "answer": "18", "extraction": mode} for mode in ("fallback", "strict")]
    outs = [process_results_math(doc, [[_gen(cut_off, 0, 20, truncated=True)]]) for doc in docs]
    records = [doc["cotbench"]["generations"][0] for doc in docs]
    assert [r["extracted_by"] for r in records] == ["truncated_tail", None]
    assert [r["reason"] for r in records] == ["correct", "no_answer"] and [o["acc"] for o in outs] == [1.0, 0.0]
    finished = {"id": "y", "answer": "18"}
    process_results_math(finished, [[_gen(cut_off, 0, 20, truncated=False)]])
    assert finished["cotbench"]["generations"][0]["extracted_by"] == "fallback"


def test_the_rows_extraction_option_reaches_the_grader():
    stated = "</think>Therefore, there are 240 possible outfits."
    fallback_doc, strict_doc = ({"id": "x", "answer": "240", "extraction": mode} for mode in ("fallback", "strict"))
    assert process_results_math(fallback_doc, [[stated]])["acc"] == 1.0
    assert process_results_math(strict_doc, [[stated]])["acc"] == 0.0
    assert fallback_doc["cotbench"]["generations"][0]["extracted_by"] == "fallback"
    assert strict_doc["cotbench"]["generations"][0]["reason"] == "no_answer"


def test_mmlu_option_text_in_the_box_counts_as_its_letter():
    doc = {"id": "m", "answer": "C", "choices": ["Lyon", "Nice", "Paris", "Lille"]}
    assert process_results_mmlu(doc, [["</think>\\boxed{\\text{Paris}}"]])["acc"] == 1.0
    assert process_results_mmlu(doc, [["</think>\\boxed{\\text{Nice}}"]])["acc"] == 0.0


def test_one_loader_for_every_benchmark_carries_the_extraction_option(monkeypatch):
    monkeypatch.setenv("COTBENCH_DATA_DIR", "/work/shared/data")
    rows = load_benchmark("aime24", extraction="strict", version=1.0)["test"]
    assert len(rows) == 30 and set(rows["extraction"]) == {"strict"}
    arith = load_benchmark("arith", level="easy")["test"]
    assert set(arith["extraction"]) == {"fallback"} and arith[0]["level"] == "easy"
    with pytest.raises(CotbenchError, match=r"extraction='box': expected one of fallback, strict"):
        load_benchmark("aime24", extraction="box")


def test_answer_probes_are_graded_with_their_entropy_for_the_auroc():
    """Each answer probe gets the answer it gave, whether that was right (same grader as the
    sample), and its mean entropy — what the report's probe-entropy AUROC needs."""
    probes = [
        {"probe_text": "21}<|end|>", "entropies": [0.1, 0.3], "decision": "cut"},  # right, confident
        {"probe_text": "{2}.", "entropies": [1.5, 2.5], "decision": "continue"},  # DEER-style "{", wrong
        {"probe_text": "\\frac{4", "entropies": [2.0], "decision": "continue"},  # box never closed: no verdict
    ]
    record = GenerationRecord(thinking_tokens=9, answer_tokens=3, probe_tokens=6, total_tokens=12, probes=probes,
                              adapter={"method": "entrocut"})
    doc = {"id": "p", "problem": "q", "answer": "21"}
    process_results_math(doc, [[GenerationText("t</think>\\boxed{21}", record)]])
    logged = doc["cotbench"]["generations"][0]["probes"]
    assert [p.get("answer") for p in logged] == ["21", "2", None]
    assert [p.get("answer_correct") for p in logged] == [True, False, None]
    assert logged[0]["entropy"] == pytest.approx(0.2) and logged[1]["entropy"] == pytest.approx(2.0)
    assert "entropy" not in logged[2]


def test_a_model_that_never_thinks_is_not_counted_as_unclosed():
    """acc_closed counts unclosed *thinking* wrong; a model without a thinking template (the
    adapter records model_thinks=False) answers directly and keeps its accuracy."""
    record = GenerationRecord(thinking_tokens=0, answer_tokens=4, probe_tokens=0, total_tokens=4,
                              adapter={"method": "vanilla", "model_thinks": False})
    out = process_results_math({"id": "n", "answer": "6"}, [[GenerationText("\\boxed{6}", record)]])
    assert out["acc"] == 1.0 and out["acc_closed"] == 1.0
    thinking = GenerationRecord(thinking_tokens=4, answer_tokens=0, probe_tokens=0, total_tokens=4,
                                adapter={"method": "vanilla", "model_thinks": True})
    out = process_results_math({"id": "t", "answer": "6"}, [[GenerationText("so \\boxed{6} wait", thinking)]])
    assert out["acc"] == 1.0 and out["acc_closed"] == 0.0
