"""Method adapters (registered with lm-eval as `cotbench-<name>`) and the shared thinking loop."""

ADAPTER_MODULES = ("vanilla", "entrocut", "nowait", "budget", "deer", "dynasor", "eat", "stepentropy", "skip", "entra")


def register_all() -> None:
    """Import every adapter module so its `@register_model` runs (lm-eval has no plugin discovery)."""
    import importlib

    for module in ADAPTER_MODULES:
        importlib.import_module(f"cotbench.cot_methods.{module}")
