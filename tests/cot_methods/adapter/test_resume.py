import pytest

"""A real run killed mid-way resumes from its journal: no finished sample lost or recomputed,
and a different adapter or argument never reuses another's answers."""

import json
import signal
import subprocess
import sys
import time


def command(journal, out, method="vanilla", extra=""):
    return [sys.executable, "-m", "cotbench.cli", "eval", "--model", f"cotbench-{method}",
            "--model_args", f"pretrained=smollm2-135m,journal={journal}{extra}", "--tasks", "cot_gsm8k", "--limit", "4",
            "--batch_size", "1", "--apply_chat_template", "--gen_kwargs", "max_gen_toks=40,temperature=0",
            "--log_samples", "--output_path", str(out)]


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(tmp_path, smollm2_path):
    journal = tmp_path / "journal.jsonl"
    proc = subprocess.Popen(command(journal, tmp_path / "first"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(lines(journal)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = [json.loads(line) for line in lines(journal)]
    assert 2 <= len(done_before) < 4, "the run should have been killed after two of four samples"
    assert not list((tmp_path / "first").rglob("results_*.json"))

    rerun = subprocess.run(command(journal, tmp_path / "second"), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{len(done_before)} of 4 generations restored" in rerun.stderr
    done_after = [json.loads(line) for line in lines(journal)]
    assert len(done_after) == 4  # only the missing ones were generated and appended
    assert done_after[: len(done_before)] == done_before
    samples = [json.loads(line) for f in (tmp_path / "second").rglob("samples_*.jsonl") for line in f.open()]
    texts = {s["resps"][0][0] for s in samples}
    assert len(samples) == 4 and {d["text"] for d in done_after} == texts

    other = subprocess.run(command(journal, tmp_path / "third", "entrocut", ",threshold=0.5"), capture_output=True, text=True, timeout=600)
    assert other.returncode == 0 and "restored" not in other.stderr
    assert len(lines(journal)) == 8  # EntroCut's generations are its own


def test_a_rerun_on_other_servers_resumes_from_the_journal():
    """The journal key names what was asked (adapter, arguments, prompt, kwargs, repeat), not
    which servers answered: a run restarted with a different base_url list reuses its records."""
    from types import SimpleNamespace

    from cotbench.cot_methods.adapter.base import CotbenchLM
    from cotbench.cot_methods.adapter.request_rows import request_rows

    def adapter(base_url):
        describe = {"method": "entrocut", "engine_args": {"journal": "j.jsonl"}, "backend": {"name": "openai", "base_url": base_url}}
        return SimpleNamespace(describe=lambda: describe)

    requests = [SimpleNamespace(args=("prompt", {"max_gen_toks": 8}))] * 2
    first = CotbenchLM._journal_keys(adapter("http://a/v1|http://b/v1"), requests, request_rows(requests))
    assert first == CotbenchLM._journal_keys(adapter("http://c/v1"), requests, request_rows(requests))
    assert first[0] != first[1]  # repeats of one request stay apart
