"""A trained checkpoint as the harness loads it (`pretrained=<folder>`), named by its sha256 and
described by `train.json`: what a README figure or a leaderboard row names a trained model by.

Why a summary beside the weights: a figure is only reproducible when its checkpoint says what made
it (recipe, base model and its sha256, data, steps, seed, wall time, library versions), and a
float training is byte-identical only on the machine that ran it (as the testbed's build), so the
sha256 says whether two runs made the same model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

SUMMARY_FILE = "train.json"
TRAINING_LIBRARIES = ("torch", "transformers", "tokenizers", "trl", "datasets")


def checkpoint_sha256(folder: str | Path) -> str:
    """sha256 over every file a load reads (names and bytes), the summary excepted: the rule of
    the testbed's `testbed_sha256`, which keeps its own copy because its code is hashed into the
    shipped model's cache key (testbed/build.py MODEL_SOURCES)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if p.is_file() and p.name != SUMMARY_FILE):
        digest.update(f"{path.name}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


def library_versions(libraries: tuple[str, ...] = TRAINING_LIBRARIES) -> dict[str, str]:
    """Installed versions ("missing" when absent): the float kernels a checkpoint came from."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(library: str) -> str:
        try:
            return version(library)
        except PackageNotFoundError:
            return "missing"

    return {library: installed(library) for library in libraries}


def save_checkpoint(model, tokenizer, folder: str | Path, summary: dict) -> dict:
    """Write model, tokenizer and `train.json` (with the folder's sha256 and the library
    versions) into `folder`, atomically: a killed run leaves the old folder or none, never half."""
    folder = Path(folder)
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        summary = {**summary, "sha256": checkpoint_sha256(tmp), "libraries": library_versions()}
        (tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary
