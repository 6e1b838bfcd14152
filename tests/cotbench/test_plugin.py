"""cotbench as an lm-eval plugin: the entry points pyproject.toml declares resolve to the adapters
registered under those aliases, `cotbench.plugin` registers every adapter on import, and, given an
lm-eval main checkout (COTBENCH_LM_EVAL_MAIN), plain `lm_eval` finds our models and tasks itself."""

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cotbench.harness_tasks import TASKS_DIR

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; setup.sh uses 3.11
REPO = Path(__file__).resolve().parents[2]
DECLARED = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]


def installed_entry_points(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group) if ep.dist.name == "cotbench"}


@pytest.mark.parametrize("group", ["lm_eval.models", "lm_eval.tasks"])
def test_the_installed_metadata_declares_what_pyproject_declares(group):
    installed = {name: ep.value for name, ep in installed_entry_points(group).items()}
    assert installed == DECLARED[group], "the installed metadata is stale: run pip install -e . again"


def test_every_declared_model_entry_point_resolves_to_the_class_registered_under_its_alias():
    from lm_eval.api.registry import model_registry

    from cotbench.cot_methods import register_all

    entry_points = installed_entry_points("lm_eval.models")
    for alias, entry_point in entry_points.items():
        adapter = entry_point.load()
        # lm-eval main upgrades the entry point to the decorated class only when they name the same place.
        assert entry_point.value == f"{adapter.__module__}:{adapter.__qualname__}"
        assert model_registry.get(alias) is adapter
    register_all()
    registered = {name for name in model_registry.keys() if name.startswith("cotbench-")}
    assert registered == set(entry_points) and len(registered) == 10  # a new method must be declared too


def test_the_task_entry_point_is_our_task_folder():
    (entry_point,) = installed_entry_points("lm_eval.tasks").values()
    spec = importlib.util.find_spec(entry_point.value)
    assert Path(spec.submodule_search_locations[0]).resolve() == Path(TASKS_DIR)


def test_importing_the_plugin_module_registers_every_adapter():
    """What lm-eval's `--plugins cotbench.plugin` does, in a fresh interpreter."""
    code = "import cotbench.plugin; from lm_eval.api.registry import model_registry; print(' '.join(sorted(n for n in model_registry.keys() if n.startswith('cotbench-'))))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == sorted(DECLARED["lm_eval.models"])


LM_EVAL_MAIN = os.environ.get("COTBENCH_LM_EVAL_MAIN")


@pytest.mark.slow
@pytest.mark.skipif(not LM_EVAL_MAIN, reason="set COTBENCH_LM_EVAL_MAIN to an lm-evaluation-harness checkout with plugin discovery (PR #4013, #4015)")
@pytest.mark.parametrize("plugins", [[], ["--plugins", "cotbench.plugin"]])
def test_plain_lm_eval_main_finds_our_adapters_and_tasks(plugins, tmp_path):
    env = {**os.environ, "PYTHONPATH": LM_EVAL_MAIN}
    proc = subprocess.run(
        [sys.executable, "-m", "lm_eval", "run", *plugins, "--model", "cotbench-vanilla", "--model_args", "pretrained=arith-testbed",
         "--tasks", "cot_arith_easy", "--limit", "1", "--gen_kwargs", "max_gen_toks=16"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "cot_arith_easy" in proc.stdout and "total_tokens" in proc.stdout
