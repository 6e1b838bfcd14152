"""The testbed model every figure is measured on: trained once, shipped in the package, pinned.

Why shipped and not built: a build is byte-identical only on one machine with one set of
libraries (float kernels differ between CPUs, and 1,500 training steps amplify the difference), so
a model rebuilt elsewhere is another model, and every figure moves with it (issue 23).
`pretrained=arith-testbed` loads `SHIPPED_DIR` after checking its sha256 (`testbed_sha256`: every
file a load reads) against `SHIPPED_SHA256`; `cotbench testbed build` stays for people who change
the traces, builds into the cache, and is loaded by an explicit name (`arith-testbed-local`) or
its folder. A rebuild that replaces the shipped model writes `SHIPPED_DIR` and the new pin in one
commit. This file is not hashed into the build's cache key, so pinning does not re-key the build.
"""

from __future__ import annotations

import json
from pathlib import Path

from cotbench.errors import CotbenchError

from .build import SUMMARY_FILE, default_testbed_dir, testbed_sha256

TESTBED_ALIASES = ("arith-testbed", "testbed")
LOCAL_BUILD_ALIAS = "arith-testbed-local"  # the cache's build of the current code (`cotbench testbed build`)
SHIPPED_DIR = Path(__file__).resolve().parent / "arith_testbed"
# testbed_sha256(SHIPPED_DIR) of the committed model (seed 0); its testbed.json says how it was built.
SHIPPED_SHA256 = "7de4a2cf5461026bb6e2730025343ca5d339ac68707b7aea399744304d3a3459"
REBUILD_HINT = "restore it with `git checkout -- cot_methods/testbed/arith_testbed` (or pass pretrained=<your build's folder>)"


def verify_testbed(folder: Path, expected: str | None = None) -> Path:
    """`folder` if it holds a whole testbed whose files hash to `expected` (default: the sha256
    its own build recorded); else one error line naming both hashes and what to run."""
    summary = folder / SUMMARY_FILE
    if not summary.is_file() or not (folder / "config.json").is_file():
        raise CotbenchError(f"testbed {folder}: not a built testbed (no {SUMMARY_FILE} or config.json); run `cotbench testbed build`")
    try:
        recorded = json.loads(summary.read_text()).get("sha256")
    except (OSError, ValueError) as error:
        raise CotbenchError(f"testbed {folder}: unreadable {SUMMARY_FILE} ({error}); rebuild it with `cotbench testbed build`") from None
    expected = expected or recorded
    found = testbed_sha256(folder)
    if found != expected:
        hint = REBUILD_HINT if folder == SHIPPED_DIR else "it is corrupt or half-written: rebuild it with `cotbench testbed build`"
        raise CotbenchError(f"testbed {folder}: sha256 {found} does not match the expected {expected}; {hint}")
    return folder


def resolve_testbed(name: str) -> Path:
    """The folder behind a testbed alias, verified."""
    if name.lower() == LOCAL_BUILD_ALIAS:
        folder = default_testbed_dir()
        if not (folder / SUMMARY_FILE).is_file():
            raise CotbenchError(f"pretrained={LOCAL_BUILD_ALIAS}: no local build of this code yet; run `cotbench testbed build` (about 15 minutes on 2 cores)")
        return verify_testbed(folder)
    return verify_testbed(SHIPPED_DIR, SHIPPED_SHA256)


def is_testbed_alias(name: str) -> bool:
    return name.lower() in (*TESTBED_ALIASES, LOCAL_BUILD_ALIAS)
