"""The per-sample record reaches lm-eval's samples file without a pseudo-metric in its table.

Runs lm-eval's own evaluator and file writer on cot_aime24 with a scripted model (right,
wrong and unclosed answers), then reads the run back with reports/runs.py.
"""

from lm_eval import evaluator
from lm_eval.api.model import LM
from lm_eval.loggers import EvaluationTracker
from lm_eval.tasks import TaskManager

from cotbench.harness_tasks import TASKS_DIR
from cotbench.reports.runs import load_run

LIMIT = 3


class ScriptedLM(LM):
    """Answers the first problem right, the second wrong, the third right but never closes thinking."""

    def __init__(self, golds):
        super().__init__()
        self.golds = golds

    def generate_until(self, requests, disable_tqdm=False):
        return [
            "ok</think>\\boxed{" + self.golds[0] + "}",
            "ok</think>The answer is 1000.",
            "still thinking \\boxed{" + self.golds[2] + "}",
        ][: len(requests)]

    def loglikelihood(self, requests, disable_tqdm=False):
        raise NotImplementedError

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        raise NotImplementedError


def test_results_have_no_pseudo_metric_and_the_record_reaches_the_samples_file(tmp_path):
    manager = TaskManager(include_path=TASKS_DIR, include_defaults=False)
    golds = [doc["answer"] for doc in list(manager.load(["cot_aime24"])["tasks"]["cot_aime24"].test_docs())[:LIMIT]]
    out = evaluator.simple_evaluate(model=ScriptedLM(golds), tasks=["cot_aime24"], task_manager=manager,
                                   limit=LIMIT, log_samples=True)
    metrics = out["results"]["cot_aime24"]
    assert not any(key.startswith("cotbench,") for key in metrics), sorted(metrics)
    assert metrics["acc,all"] == 2 / 3 and metrics["acc_closed,all"] == 1 / 3

    tracker = EvaluationTracker(output_path=str(tmp_path))
    samples = out.pop("samples")
    tracker.save_results_aggregated(results=out, samples=samples)
    tracker.save_results_samples(task_name="cot_aime24", samples=samples["cot_aime24"])
    run = load_run(tmp_path)
    [records] = [[s.generations[0] for s in run.tasks["cot_aime24"]]]
    assert [r.correct for r in records] == [True, False, True]
    assert [r.thinking_closed for r in records] == [True, True, False]
    assert [r.extracted_by for r in records] == ["box", "fallback", "box"]
    assert records[1].extracted_answer == "1000" and records[1].reason == "mismatch"
