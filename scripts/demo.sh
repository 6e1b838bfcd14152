#!/usr/bin/env bash
# The main job, offline on a CPU:
#  1. the embedded default model (SmolLM2-135M-Instruct): vanilla on 2 samples of every cot_*
#     benchmark, lm-eval's table and a report — the plumbing on real data (it scores ~0);
#  2. the synthetic testbed (shipped in the package and verified against its pinned sha256, which
#     is printed so a run names the model it measured): vanilla, the naive control that closes
#     thinking at the first "Wait" (EntroCut with τ = inf), an EntroCut threshold sweep and the
#     peers on cot_arith, a report against vanilla and a leaderboard (method, level, accuracy,
#     tokens, token reduction) — where the trade-off is visible. Synthetic: not evidence about
#     real reasoning models.
# Data: COTBENCH_DATA_DIR if set; else ../shared/data when present (then the run is offline); else the Hugging Face hub.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${COTBENCH_DATA_DIR:-}" ] && [ -d ../shared/data ]; then
  export COTBENCH_DATA_DIR="$(cd ../shared/data && pwd)"
fi
if [ -n "${COTBENCH_DATA_DIR:-}" ]; then  # data, models and tokenizers are all local: the hub is never asked
  export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
fi
OUT=${COTBENCH_DEMO_OUT:-runs/demo}
LIMIT=${COTBENCH_DEMO_LIMIT:-100}  # cot_arith problems per level
CB=.venv/bin/cotbench

if [ "${COTBENCH_DEMO_TESTBED_ONLY:-0}" != 1 ]; then  # 1: only part 2 (the README's tolerance runs compare its table)
  echo "== 1. SmolLM2-135M on the six benchmarks (2 samples each)"
  $CB eval --model cotbench-vanilla --model_args pretrained=smollm2-135m \
    --tasks cot_all --limit 2 --batch_size 4 --apply_chat_template \
    --gen_kwargs max_gen_toks=256 --log_samples --output_path "$OUT/smollm2/vanilla"
  $CB report "$OUT/smollm2/vanilla" -o "$OUT/smollm2/report"
fi

echo "== 2. the cot_arith testbed"
$CB testbed verify
RUNS=()
run() {  # run NAME ADAPTER EXTRA_MODEL_ARGS
  RUNS+=("$OUT/arith/$1")
  $CB eval --model "cotbench-$2" --model_args "pretrained=arith-testbed$3" \
    --tasks cot_arith_easy,cot_arith_medium --limit "$LIMIT" --batch_size 32 --apply_chat_template \
    --log_samples --output_path "$OUT/arith/$1" 2>&1 | grep -E "^\|"  # lm-eval's table
}
run vanilla vanilla ""
run first-trigger entrocut ",threshold=inf,min_thinking_tokens=0"  # the naive control: cut at the first "Wait"
for tau in 0.15 0.3 0.6; do  # 0.15: EntroCut's default (fallback) τ
  run "entrocut-$tau" entrocut ",threshold=$tau,min_thinking_tokens=0"
done
run nowait nowait ""
for budget in 48 96; do  # s1 with its own close and "Final Answer:" (in the testbed's training)
  run "budget-$budget" budget ",thinking_budget=$budget"
done
run deer deer ""
run dynasor dynasor ",chunk_size=32"
run eat eat ",min_steps=3"  # the default ⌈4/α⌉ = 20 steps is more than these traces have
run stepentropy stepentropy ""  # post-hoc: decodes the whole thinking, then answers from the 20 % of steps it keeps
$CB report "$OUT/arith/entrocut-0.15" --baseline "$OUT/arith/vanilla" -o "$OUT/arith/report"
$CB leaderboard "${RUNS[@]}" -o "$OUT/arith/leaderboard"
.venv/bin/python scripts/testbed_table.py "$OUT/arith/leaderboard/leaderboard.json"  # the README's table (synthetic testbed)
echo "the whole leaderboard: $OUT/arith/leaderboard/LEADERBOARD.md; open $OUT/arith/leaderboard/index.html, $OUT/arith/report/report.html and $OUT/smollm2/report/report.html"
