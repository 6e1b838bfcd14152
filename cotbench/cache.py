"""Where cotbench keeps what it builds once and reuses: converted checkpoints, the testbed
model, fetched tokenizers. One root, so `COTBENCH_CACHE` moves all of it."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Where converted checkpoints live; `COTBENCH_CACHE` overrides the XDG default."""
    configured = os.environ.get("COTBENCH_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cotbench"

