"""A trained checkpoint is named by the sha256 of what a load reads, and written whole or not at all."""

import json

import pytest

from cotbench.cot_methods.training.checkpoint import SUMMARY_FILE, checkpoint_sha256, save_checkpoint


class Saves:
    def __init__(self, name, payload=b"x"):
        self.name, self.payload = name, payload

    def save_pretrained(self, folder):
        (folder / self.name).write_bytes(self.payload)


class Breaks:
    def save_pretrained(self, folder):
        raise RuntimeError("disk full")


def test_the_sha256_names_the_weights_not_the_summary(tmp_path):
    summary = save_checkpoint(Saves("model.safetensors"), Saves("tokenizer.json"), tmp_path / "ckpt", {"recipe": "r"})
    folder = tmp_path / "ckpt"
    written = json.loads((folder / SUMMARY_FILE).read_text())
    assert written["sha256"] == summary["sha256"] == checkpoint_sha256(folder)
    assert set(written["libraries"]) >= {"torch", "transformers", "trl"}
    (folder / SUMMARY_FILE).write_text("{}")
    assert checkpoint_sha256(folder) == summary["sha256"]
    (folder / "model.safetensors").write_bytes(b"y")
    assert checkpoint_sha256(folder) != summary["sha256"]


def test_a_failed_save_leaves_the_old_checkpoint(tmp_path):
    save_checkpoint(Saves("model.safetensors"), Saves("tokenizer.json"), tmp_path / "ckpt", {"recipe": "old"})
    with pytest.raises(RuntimeError):
        save_checkpoint(Saves("model.safetensors", b"new"), Breaks(), tmp_path / "ckpt", {"recipe": "new"})
    assert json.loads((tmp_path / "ckpt" / SUMMARY_FILE).read_text())["recipe"] == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
