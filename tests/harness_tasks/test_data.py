"""Data loading: the mirror's errors name the path/line; hub rows normalise to our schema."""

import json

import pytest

from cotbench.errors import CotbenchError
from cotbench.harness_tasks import data


def test_missing_mirror_file_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(CotbenchError, match=str(tmp_path / "gsm8k" / "test.jsonl")):
        data.load_rows("gsm8k")


def test_malformed_line_names_the_line(tmp_path, monkeypatch):
    (tmp_path / "gsm8k").mkdir()
    good = json.dumps({"id": "a", "problem": "p", "answer": "1"})
    (tmp_path / "gsm8k" / "test.jsonl").write_text(f"{good}\n{good}\n{{not json\n")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(CotbenchError, match=r"test.jsonl:3: malformed JSON"):
        data.load_rows("gsm8k")


def test_mmlu_row_without_four_choices_is_rejected(tmp_path, monkeypatch):
    (tmp_path / "mmlu").mkdir()
    (tmp_path / "mmlu" / "test.jsonl").write_text(json.dumps({"id": "m", "problem": "q", "choices": ["a"], "answer": "A"}) + "\n")
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(CotbenchError, match="four 'choices'"):
        data.load_rows("mmlu")


def test_unknown_benchmark():
    with pytest.raises(CotbenchError, match="unknown benchmark 'gsm9k'"):
        data.load_rows("gsm9k")


def test_hub_rows_normalise():
    gsm = data._normalise_hub_row("gsm8k", {"question": "q", "answer": "work\n#### 1,234"}, 7)
    assert gsm == {"problem": "q", "answer": "1234", "id": "gsm8k-00007"}
    mmlu = data._normalise_hub_row("mmlu", {"question": "q", "choices": list("wxyz"), "answer": 2, "subject": "s"}, 0)
    assert mmlu["answer"] == "C" and mmlu["choices"] == list("wxyz")
    aime = data._normalise_hub_row("aime24", {"id": 60, "problem": "p", "answer": 25}, 0)
    assert aime["answer"] == "25" and aime["id"] == "60"
