"""A sampled generation is a function of what the request is (task, document, repeat), never of
where it stands in lm-eval's list: another task in the run, a --repeats variant or a journal
resume gives each problem the same sample, and the record names the request and its seed.

Real SmolLM2 generations at temperature 1 (a few tokens each), from lm-eval's own `Instance`."""

import pytest
from lm_eval.api.instance import Instance

from cotbench.cot_methods.methods.vanilla import VanillaLM

QUESTIONS = ["What is 7 times 8?", "Name a prime number larger than 20.", "What is the capital of France?"]
SAMPLED = {"max_gen_toks": 8, "temperature": 1.0, "do_sample": True}


def request(task: str, doc_id: int, repeats: int = 1) -> Instance:
    """The request lm-eval makes for one document of one task."""
    return Instance("generate_until", doc={}, arguments=(QUESTIONS[doc_id], SAMPLED), idx=0, metadata=(task, doc_id, repeats))


def texts(lm, requests) -> list[str]:
    return [str(text) for text in lm.generate_until(requests, disable_tqdm=True)]


@pytest.fixture(scope="module")
def lm(smollm2_path):
    return VanillaLM(pretrained="smollm2-135m", device="cpu", batch_size=1)


def test_a_problem_gets_the_same_sample_whatever_else_the_run_asks(lm):
    alone = texts(lm, [request("cot_gsm8k", 2)])
    mixed = texts(lm, [request("cot_aime24", 0), request("cot_gsm8k", 1), request("cot_gsm8k", 2)])
    assert mixed[2] == alone[0]


def test_repeats_are_distinct_samples_named_in_the_record_and_the_first_is_the_plain_tasks(lm):
    repeated = request("cot_gsm8k_k2", 0, repeats=2)
    outputs = lm.generate_until([repeated, repeated], disable_tqdm=True)  # lm-eval lists a repeated request N times
    assert str(outputs[0]) == texts(lm, [request("cot_gsm8k", 0)])[0]
    assert str(outputs[0]) != str(outputs[1])
    rows = [output.cotbench.adapter["request"] for output in outputs]
    assert [(row["task"], row["doc_id"], row["repeat"]) for row in rows] == [("cot_gsm8k_k2", 0, 0), ("cot_gsm8k_k2", 0, 1)]
    assert rows[0]["seed"] != rows[1]["seed"]


def test_a_resumed_run_of_another_mix_matches_a_fresh_run(lm, tmp_path, capsys):
    journaled = VanillaLM(pretrained="smollm2-135m", device="cpu", batch_size=1, journal=str(tmp_path / "journal.jsonl"))
    texts(journaled, [request("cot_gsm8k", 1)])  # the run that was killed had finished only this problem
    resumed = texts(journaled, [request("cot_gsm8k", 0), request("cot_gsm8k", 1)])
    assert "1 of 2 generations restored" in capsys.readouterr().err
    assert resumed == texts(lm, [request("cot_gsm8k", 0), request("cot_gsm8k", 1)])
