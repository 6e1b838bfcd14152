"""report / compare / leaderboard on lm-eval output directories produced by a real tiny run,
and their answers to missing, truncated, partial or foreign input (exit 2, nothing written)."""

import json
import shutil
import subprocess
import sys

import pytest


def cotbench(*args):
    return subprocess.run([sys.executable, "-m", "cotbench.cli", *args], capture_output=True, text=True, timeout=300)


def test_report_with_baseline_writes_every_format(real_runs, tmp_path):
    out = tmp_path / "report"
    proc = cotbench("report", str(real_runs / "entrocut"), "--baseline", str(real_runs / "vanilla"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in ("report.md", "report.html", "report.json", "report.csv", "pareto_cot_gsm8k.png", "tokens_cot_gsm8k.png", "probes_cot_gsm8k.png"):
        assert (out / name).is_file(), name
    data = json.loads((out / "report.json").read_text())
    gsm = data["summary"]["cot_gsm8k"]
    assert gsm["samples"] == 4 and gsm["versus_baseline"]["paired_samples"] == 4
    assert "token_reduction" in gsm["versus_baseline"] and "epr_label" in gsm["versus_baseline"]
    meta = data["provenance"]["run"]
    assert meta["adapter"] == "cotbench-entrocut" and "threshold=3" in meta["model_args"]
    assert meta["lm_eval_version"] and meta["cotbench_version"] and meta["seeds"]["random_seed"] is not None
    assert meta["decoding"]["cot_gsm8k"]["temperature"] == 0
    md = (out / "report.md").read_text()
    assert "| cot_gsm8k" in md and "EPR" in md
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html  # self-contained


def test_report_numbers_match_the_samples(real_runs, tmp_path):
    out = tmp_path / "r"
    assert cotbench("report", str(real_runs / "vanilla"), "-o", str(out)).returncode == 0
    samples = [json.loads(line) for f in (real_runs / "vanilla").rglob("samples_cot_mmlu_*.jsonl") for line in f.open()]
    totals = [s["doc"]["cotbench"]["generations"][0]["total_tokens"] for s in samples]
    summary = json.loads((out / "report.json").read_text())["summary"]["cot_mmlu"]
    assert summary["mean_total_tokens"] == pytest.approx(sum(totals) / len(totals))


def _rewrite_samples(run_dir, change):
    for path in run_dir.rglob("samples_*.jsonl"):
        lines = [json.loads(line) for line in path.open()]
        for sample in lines:
            for generation in sample["doc"]["cotbench"]["generations"]:
                change(generation)
        path.write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_compare_gates_token_and_accuracy_regressions(real_runs, tmp_path):
    same = cotbench("compare", str(real_runs / "vanilla"), str(real_runs / "vanilla"))
    assert same.returncode == 0 and "OK" in same.stdout

    longer = tmp_path / "longer"
    shutil.copytree(real_runs / "vanilla", longer)
    _rewrite_samples(longer, lambda g: g.update(total_tokens=g["total_tokens"] * 2))
    proc = cotbench("compare", str(real_runs / "vanilla"), str(longer), "--max-token-increase", "50")
    assert proc.returncode == 1 and "100" in proc.stdout and "REGRESSION" in proc.stdout
    assert cotbench("compare", str(real_runs / "vanilla"), str(longer), "--max-token-increase", "150").returncode == 0

    # A baseline that solved every problem: the real run (4 samples each, all wrong) loses 100 points,
    # but 4 discordant pairs give p = 1/16 > 0.05: not significant, so no regression at alpha 0.05.
    perfect = tmp_path / "perfect"
    shutil.copytree(real_runs / "vanilla", perfect)
    _rewrite_samples(perfect, lambda g: g.update(correct=True))
    assert cotbench("compare", str(perfect), str(real_runs / "vanilla")).returncode == 0
    assert cotbench("compare", str(perfect), str(real_runs / "vanilla"), "--alpha", "0.1").returncode == 1


def _copy(src, dst):
    shutil.copytree(src, dst)
    return next(dst.rglob("results_*.json"))


@pytest.mark.parametrize("damage,message", [
    ("truncate_results", "not valid JSON"),
    ("foreign_results", "not an lm-eval results file"),
    ("drop_samples", "no samples_cot_gsm8k"),
    ("truncate_samples", "malformed sample line"),
    ("partial_samples", "partial output"),
])
def test_damaged_runs_are_one_line_exit_2_and_nothing_written(real_runs, tmp_path, damage, message):
    results = _copy(real_runs / "vanilla", tmp_path / "run")
    samples = next(results.parent.glob("samples_cot_gsm8k_*.jsonl"))
    if damage == "truncate_results":
        results.write_text(results.read_text()[:200])
    elif damage == "foreign_results":
        results.write_text(json.dumps({"hello": "world"}))
    elif damage == "drop_samples":
        samples.unlink()
    elif damage == "truncate_samples":
        samples.write_text(samples.read_text()[:-50])
    elif damage == "partial_samples":
        samples.write_text("".join(samples.read_text().splitlines(keepends=True)[:2]))
    out = tmp_path / "out"
    for args in (["report", str(tmp_path / "run"), "-o", str(out)], ["leaderboard", str(tmp_path / "run"), "-o", str(out)],
                 ["compare", str(real_runs / "vanilla"), str(tmp_path / "run")]):
        proc = cotbench(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("cotbench: error:") and message in last and "Traceback" not in proc.stderr
        assert not out.exists()


def test_baseline_of_another_model_or_other_tasks_is_refused(real_runs, tmp_path):
    results = _copy(real_runs / "vanilla", tmp_path / "other")
    data = json.loads(results.read_text())
    data["config"]["model_args"] = {"pretrained": "another-model"}
    results.write_text(json.dumps(data))
    proc = cotbench("report", str(real_runs / "entrocut"), "--baseline", str(tmp_path / "other"), "-o", str(tmp_path / "o"))
    assert proc.returncode == 2 and "different model" in proc.stderr

    results = _copy(real_runs / "vanilla", tmp_path / "fewer")
    data = json.loads(results.read_text())
    del data["results"]["cot_mmlu"], data["configs"]["cot_mmlu"]
    results.write_text(json.dumps(data))
    proc = cotbench("compare", str(real_runs / "vanilla"), str(tmp_path / "fewer"))
    assert proc.returncode == 2 and "different tasks" in proc.stderr


def test_missing_run_dir(tmp_path):
    proc = cotbench("report", str(tmp_path / "nope"), "-o", str(tmp_path / "o"))
    assert proc.returncode == 2 and "run directory not found" in proc.stderr


def test_report_html_escapes_hostile_model_and_adapter_names(real_runs, tmp_path):
    hostile_text = '<script>document.title="pwned"</script>'
    run = tmp_path / "hostile"
    shutil.copytree(real_runs / "vanilla", run)
    results = next(run.rglob("results_*.json"))
    data = json.loads(results.read_text())
    data["config"]["model_args"] = {"pretrained": hostile_text}
    data["config"]["model"] = "cotbench-vanilla" + hostile_text
    results.write_text(json.dumps(data))
    out = tmp_path / "report"
    proc = cotbench("report", str(run), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


def _made_with(src, dst, **changes):
    """A copy of a run as if made with other decoding: lm-eval's configuration and what each
    record says ran (comparisons read the records)."""
    results = _copy(src, dst)
    data = json.loads(results.read_text())
    for config in data["configs"].values():
        config["generation_kwargs"].update(changes)
    results.write_text(json.dumps(data))
    _rewrite_samples(dst, lambda generation: generation["adapter"]["decoding"].update(changes))
    return dst


def test_a_baseline_made_differently_is_refused_unless_allowed(real_runs, tmp_path):
    topk = _made_with(real_runs / "vanilla", tmp_path / "topk", top_k=20)
    named = "top_k 20 (baseline) vs unset (run)"
    for args in (["report", str(real_runs / "entrocut"), "--baseline", str(topk), "-o", str(tmp_path / "o")],
                 ["compare", str(topk), str(real_runs / "entrocut")],
                 ["leaderboard", str(real_runs / "entrocut"), str(topk), "-o", str(tmp_path / "o")]):
        proc = cotbench(*args)
        assert proc.returncode == 2, (args, proc.stdout)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and named in lines[0] and "--allow-mismatch" in lines[0]
        assert not (tmp_path / "o").exists()

    proc = cotbench("report", str(real_runs / "entrocut"), "--baseline", str(topk), "--allow-mismatch", "-o", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert f"Warning: compared with a baseline made differently (--allow-mismatch): {named}" in (tmp_path / "r" / "report.html").read_text()
    assert "⚠ setting mismatch" in (tmp_path / "r" / "report.md").read_text()
    proc = cotbench("compare", str(topk), str(real_runs / "entrocut"), "--allow-mismatch")
    assert proc.returncode == 0 and "⚠ setting mismatch" in proc.stdout and named in proc.stdout


def test_report_names_what_it_computes(real_runs, tmp_path):
    out = tmp_path / "report"
    assert cotbench("report", str(real_runs / "entrocut"), "--baseline", str(real_runs / "vanilla"), "-o", str(out)).returncode == 0
    md = (out / "report.md").read_text()
    for column in ("acc_closed %", "token reduction % [95% CI]", "thinking-token reduction % [95% CI]", "EPR (cotbench)", "EPR rel (cotbench)", "Ce (cotbench)", "paired test p"):
        assert column in md, column
    assert "cotbench's formula" in md and "exact McNemar" in md
    gsm = json.loads((out / "report.json").read_text())["summary"]["cot_gsm8k"]
    records = [g for f in (real_runs / "entrocut").rglob("samples_cot_gsm8k_*.jsonl") for line in f.open() for g in json.loads(line)["doc"]["cotbench"]["generations"]]
    assert gsm["acc_closed"] == pytest.approx(sum(bool(g["correct"] and g["thinking_closed"]) for g in records) / len(records))
