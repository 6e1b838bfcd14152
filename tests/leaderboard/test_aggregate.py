"""Which vanilla run a leaderboard row is compared with: deterministic, documented, named in
the row, and never a baseline made differently unless asked."""

import itertools

import pytest

from cotbench.errors import CotbenchError
from cotbench.leaderboard import aggregate
from cotbench.leaderboard.aggregate import choose_baseline
from tests.reports.test_runs import make_run


def vanilla(name, **kw):
    return make_run(name, **kw)


def method(name="entrocut", **kw):
    run = make_run(name, **kw)
    run.adapter = "cotbench-entrocut"
    return run


def test_the_choice_does_not_depend_on_the_order_of_the_runs():
    candidates = [vanilla("old", date=1.0), vanilla("new", date=2.0), vanilla("bigger", date=0.5, samples=3), vanilla("hot", temperature=0.6, do_sample=True, date=9.0)]
    chosen = {choose_baseline(method(), "cot_gsm8k", list(order))[0].path.name for order in itertools.permutations(candidates)}
    assert chosen == {"bigger"}  # made alike first, then most samples (before newer)
    alike_same_size = [vanilla("a", date=1.0), vanilla("b", date=2.0)]
    assert choose_baseline(method(), "cot_gsm8k", alike_same_size)[0].path.name == "b"  # then the newest
    assert choose_baseline(method(), "cot_gsm8k", [vanilla("z"), vanilla("y")])[0].path.name == "y"  # then the path


def test_rows_name_their_baseline_and_refuse_a_baseline_made_differently(monkeypatch):
    runs = {"/runs/entrocut": method(), "/runs/greedy": vanilla("greedy"), "/runs/hot": vanilla("hot", temperature=0.6, do_sample=True, date=5.0)}
    monkeypatch.setattr(aggregate, "load_run", lambda path: runs[path])
    rows = aggregate.leaderboard_rows(list(runs))
    entrocut = [r for r in rows if r["method"] == "entrocut"]
    assert {r["baseline_run"] for r in entrocut} == {"/runs/greedy"} and {r["baseline_candidates"] for r in entrocut} == {2}
    assert all(r["mismatch"] is None and r["token_reduction"] == 0.0 for r in entrocut)

    del runs["/runs/greedy"]
    with pytest.raises(CotbenchError, match=r"no vanilla run of 'm' made alike; the nearest differs in temperature 0.6 \(baseline\) vs 0 \(run\)"):
        aggregate.leaderboard_rows(list(runs))
    rows = aggregate.leaderboard_rows(list(runs), allow_mismatch=True)
    assert {r["mismatch"] for r in rows if r["method"] == "entrocut"} == {"temperature 0.6 (baseline) vs 0 (run)"}


def test_a_fixed_baseline_compares_trained_checkpoints_with_their_base_model(monkeypatch):
    """`--baseline`: a checkpoint has no vanilla run of its own model; it is compared with its base,
    the model difference shown in the row, any other difference still refused."""
    trained = make_run("skip-sft", model="/ckpt/skip-sft")
    trained.adapter = "cotbench-skip"
    runs = {"/runs/skip-sft": trained, "/runs/base": vanilla("base"), "/runs/hot": vanilla("hot", model="/ckpt/skip-sft", temperature=0.6, do_sample=True)}
    monkeypatch.setattr(aggregate, "load_run", lambda path: runs[path])
    rows = aggregate.leaderboard_rows(["/runs/skip-sft"], baseline_dir="/runs/base")
    skip = [r for r in rows if r["method"] == "skip"]
    assert {r["baseline_run"] for r in skip} == {"/runs/base"} and all(r["token_reduction"] == 0.0 for r in skip)
    assert {r["mismatch"] for r in skip} == {"model 'm' (baseline) vs '/ckpt/skip-sft' (run)"}
    assert {r["epr_label"] for r in rows if r["method"] == "vanilla"} == {"baseline"}  # the base is a row of its own
    with pytest.raises(CotbenchError, match=r"/runs/hot on cot_gsm8k: the baseline /runs/base was run differently: temperature 0 \(baseline\) vs 0.6"):
        aggregate.leaderboard_rows(["/runs/hot"], baseline_dir="/runs/base")
