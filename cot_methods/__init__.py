"""Efficient chain-of-thought methods as lm-eval adapters: `policy.py` is the contract, `methods/`
the ten methods, `signals/` what they measure, `loop/` the decode loops, `adapter/` the lm-eval
face, `backends/` where else a model runs, `training/` the TRL recipes, `testbed/` the synthetic model."""


def register_all() -> None:
    """Import every module of `methods/` so its `@register_model` runs (lm-eval has no plugin discovery)."""
    import importlib
    import pkgutil

    from . import methods

    for module in pkgutil.iter_modules(methods.__path__):
        importlib.import_module(f"{methods.__name__}.{module.name}")
