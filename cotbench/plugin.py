"""Importing this module registers every cotbench adapter with lm-eval: `--plugins cotbench.plugin`.

lm-eval main imports the modules named by `--plugins` (or `LM_EVAL_PLUGINS`) so that their
`@register_model` decorators run; our decorators live in one file per method, so this module
imports them all. The entry points in pyproject.toml do the same lazily, one adapter at a time;
this is for a run that wants every adapter at once (and `simple_evaluate(plugins=[...])`).
Tasks are not registered by an import: lm-eval finds them through `--include_path` or, with
lm-eval PR #4015, the `lm_eval.tasks` entry point.
"""

from .cot_methods import register_all
from .harness_tasks import TASKS_DIR

register_all()

__all__ = ["TASKS_DIR"]
