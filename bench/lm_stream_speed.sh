#!/usr/bin/env bash
# Training speed of a stream language model, Tandem and the PyTorch reference
# (../shared/peers/torch_stream_lm_reference.py) side by side in one run, on Penn
# Treebank at the benchmark's sizes, the same threads:
#
#   bench/lm_stream_speed.sh          # SIZES="200 650" SECONDS_EACH=90 THREADS=1
#                                     # PRECISIONS="float32 bfloat16"
#
# Each program trains for SECONDS_EACH seconds (one after the other, so they never
# share the cores): 2 LSTM layers of SIZE, SIZE-wide tied embeddings, 20 columns,
# 35 steps, SGD at 20, dropout 0.2 (0.5 for 650). Tokens per second count training
# only: the reference's own figure (evaluation excluded); Tandem's from its log,
# between its 5th logged update and its last. The reference runs twice: with the
# OpenBLAS kernels it gets by default, and with the ones Tandem chooses
# (OPENBLAS_CORETYPE, printed); the ratio is against each. A user's
# OPENBLAS_CORETYPE is removed for both (Tandem would keep it), so that each
# program's own choice is measured. Tandem runs once for each of PRECISIONS (--precision:
# bfloat16 products, float32 weights, gradients and loss); the reference has only float32.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${BIN:-$ROOT/build/bin}"
PEER="$ROOT/../shared/peers/torch_stream_lm_reference.py"
PTB="${PTB:-$ROOT/../shared/data/ptb}"
SECONDS_EACH="${SECONDS_EACH:-90}" THREADS="${THREADS:-1}"
unset OPENBLAS_CORETYPE
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for f in train valid; do gunzip -c "$PTB/ptb.$f.txt.gz" > "$OUT/$f.txt"; done
"$BIN/tandem-vocab" -i "$OUT/train.txt" -o "$OUT/words.vocab" --model-type words --quiet > /dev/null
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') (family $(lscpu | sed -n 's/^CPU family: *//p'), model $(lscpu | sed -n 's/^Model: *//p')); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
core="$(OPENBLAS_VERBOSE=2 "$BIN/tandem-bench" mm --size 32 --seconds 0.1 --cpu-threads 1 2>&1 | sed -n 's/^Core: *//p' | head -n 1)"
echo "OpenBLAS's own choice here: ${core:-unknown}"
echo "Tandem: $("$BIN/tandem-train" --model "$OUT/probe" -t "$OUT/valid.txt" -v "$OUT/words.vocab" --type lm --lm-stream \
  --after-updates 1 --cpu-threads "$THREADS" --dim-emb 8 --dim-rnn 8 --deep-output false --valid-freq 0 2>&1 | grep -m1 'CPU kernels')"
tandem_rate() {  # SIZE DROPOUT PRECISION
  rm -rf "$OUT/m"
  "$BIN/tandem-train" --model "$OUT/m" -t "$OUT/train.txt" -v "$OUT/words.vocab" --type lm --lm-stream --bptt 35 \
    --mini-batch 20 --cell lstm --dec-depth 2 --dim-emb "$1" --dim-rnn "$1" --tied-embeddings true --deep-output false \
    --dropout-emb "$2" --dropout-rnn "$2" --dropout-out "$2" --init-range 0.1 --optim sgd --learn-rate 20 \
    --clip-norm 0.25 --valid-freq 0 --disp-freq 10 --after-time "$(echo "$SECONDS_EACH / 60" | bc -l)" \
    --cpu-threads "$THREADS" --precision "$3" --quiet
  python3 - "$OUT/m/train.log.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
a, b = rows[min(4, len(rows) - 2)], rows[-1]
print("%.1f" % ((b["target_tokens"] - a["target_tokens"]) / (b["seconds"] - a["seconds"])))
PY
}
reference_rate() {  # SIZE DROPOUT [ENV...]
  local size=$1 dropout=$2; shift 2
  env "$@" /usr/bin/python3 "$PEER" train --train "$OUT/train.txt" --valid "$OUT/valid.txt" --emb "$size" --hid "$size" \
    --layers 2 --dropout "$dropout" --tied --minutes "$(echo "$SECONDS_EACH / 60" | bc -l)" --threads "$THREADS" \
    2>&1 | tail -1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["train_tokens_per_second"])'
}
# The kernels Tandem's start-up chooses where OpenBLAS falls back (src/util/cpu_kernels.cpp).
CORETYPE="OPENBLAS_CORETYPE=$(grep -q avx512vl /proc/cpuinfo && echo SkylakeX || echo Haswell)"
read -r -a precisions <<< "${PRECISIONS:-float32 bfloat16}"
rows=()
for size in ${SIZES:-200 650}; do
  dropout=0.2; [[ "$size" -ge 650 ]] && dropout=0.5
  declare -A t=()
  t[${precisions[0]}]=$(tandem_rate "$size" "$dropout" "${precisions[0]}")  # alternating with the reference's runs
  r=$(reference_rate "$size" "$dropout")
  for p in "${precisions[@]:1}"; do t[$p]=$(tandem_rate "$size" "$dropout" "$p"); done
  rk=$(reference_rate "$size" "$dropout" "$CORETYPE")
  for p in "${precisions[@]}"; do
    rows+=("$(printf '%-6s %-9s %-9s %12s %14s %9s %22s %9s' "$size" "$THREADS" "$p" "${t[$p]}" "$r" \
      "$(echo "scale=2; ${t[$p]} / $r" | bc)" "$rk" "$(echo "scale=2; ${t[$p]} / $rk" | bc)")")
  done
  unset t
done
printf '%-6s %-9s %-9s %12s %14s %9s %22s %9s\n' size threads precision tandem_tok/s reference_tok/s ratio \
  "reference_$CORETYPE" ratio
printf '%s\n' "${rows[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
