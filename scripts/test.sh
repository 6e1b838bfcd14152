#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export COTBENCH_DATA_DIR=${COTBENCH_DATA_DIR:-$(cd .. && pwd)/shared/data}
exec .venv/bin/python -m pytest "$@"
