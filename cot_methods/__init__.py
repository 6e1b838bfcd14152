"""Method adapters (registered with lm-eval as `cotbench-<name>`) and the shared thinking loop."""


def register_all() -> None:
    """Import every adapter module so its `@register_model` runs (lm-eval has no plugin discovery)."""
    from cotbench.cot_methods import vanilla  # noqa: F401
