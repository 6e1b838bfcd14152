#!/usr/bin/env bash
# The main job on the embedded default model (SmolLM2-135M-Instruct): set up, evaluate the
# vanilla adapter on 2 samples of every cot_* task, print lm-eval's results table.
# Data: COTBENCH_DATA_DIR if set; else ../shared/data when present; else the Hugging Face hub.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${COTBENCH_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export COTBENCH_DATA_DIR="$(cd ../shared/data && pwd)"
fi
OUT=${COTBENCH_DEMO_OUT:-runs/demo}
.venv/bin/cotbench eval --model cotbench-vanilla --model_args pretrained=smollm2-135m \
  --tasks cot_all --limit 2 --batch_size 4 --apply_chat_template \
  --gen_kwargs max_gen_toks=256 --log_samples --output_path "$OUT/vanilla"
.venv/bin/cotbench report "$OUT/vanilla" -o "$OUT/report"
echo "open $OUT/report/report.html (or read $OUT/report/report.md)"
