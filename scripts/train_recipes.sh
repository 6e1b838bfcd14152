#!/usr/bin/env bash
# The trained seeds on the testbed, end to end (issue 25): train every recipe from the shipped
# testbed model (`cotbench testbed train`), evaluate each checkpoint and its base with the harness on
# cot_arith easy / medium / hard, and build a leaderboard that compares every checkpoint with its base
# (accuracy, thinking and total tokens, [SKIP] rate, ENTRA's redundancy score, Ce, EPR). Prints each
# checkpoint's sha256 and wall time, and the README's table.
#   bash scripts/train_recipes.sh            # full size (about an hour on 2 cores)
#   SIZE=mini bash scripts/train_recipes.sh  # CI's miniature
# Synthetic testbed: evidence about the recipes and the testbed, not about real reasoning models.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${COTBENCH_TRAIN_OUT:-runs/train}
SIZE=${SIZE:-full}
LIMIT=${COTBENCH_TRAIN_LIMIT:-100}  # test problems per level
CB=.venv/bin/cotbench
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT/checkpoints" "$OUT/runs" "$OUT/logs"

train() {  # train NAME ARGS...: the checkpoint's folder is the command's last line
  local name=$1; shift
  $CB testbed train --size "$SIZE" -o "$OUT/checkpoints/$name" "$@" | tail -n 1
}
evaluate() {  # evaluate NAME ADAPTER MODEL [EXTRA_MODEL_ARGS]: a failed run stops the script (its log's tail shown)
  local log="$OUT/logs/$1.log"
  if ! $CB eval --model "cotbench-$2" --model_args "pretrained=$3${4:-}" --tasks cot_arith_easy,cot_arith_medium,cot_arith_hard \
      --limit "$LIMIT" --batch_size 32 --apply_chat_template --log_samples --output_path "$OUT/runs/$1" > "$log" 2>&1; then
    tail -n 5 "$log" >&2
    exit 1
  fi
  grep -E "^\|" "$log"  # lm-eval's table
}

echo "== training"
SKIP_SFT=$(train skip-sft --recipe skip-sft)
SKIP_GRPO=$(train skip-grpo --recipe skip-grpo --base "$SKIP_SFT")
ENTRA=()
for tau in 0.1 0.2 0.3; do  # ENTRA's τ (top share by importance left out): the seed's 20 % and its ablation
  ENTRA+=("$(train "entra-grpo-$tau" --recipe entra-grpo --top-fraction "$tau")")
done

echo "== evaluation (100 test problems per level)"
evaluate base-vanilla vanilla arith-testbed
evaluate base-skip skip arith-testbed
evaluate base-entra entra arith-testbed ",analysis=true"
evaluate skip-sft skip "$SKIP_SFT"
evaluate skip-grpo skip "$SKIP_GRPO"
for folder in "${ENTRA[@]}"; do
  evaluate "$(basename "$folder")" entra "$folder" ",analysis=true"
done

$CB leaderboard "$OUT"/runs/* --baseline "$OUT/runs/base-vanilla" -o "$OUT/leaderboard"
.venv/bin/python scripts/training_table.py "$OUT/leaderboard/leaderboard.json" "$OUT/checkpoints"
