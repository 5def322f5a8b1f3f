#!/usr/bin/env bash
# A/B training rate of two builds in one sitting, 1 thread, the same batches and seed:
#
#   A=/path/to/old/build/bin B=build/bin bench/ab_training.sh      # CFGS="GRU LSTM" ROUNDS=2 UPDATES=25
#   A=build/bin B=build/bin A_ENV="TANDEM_FUSED_CELLS=0" bench/ab_training.sh   # one build, two settings
#
# A_ENV and B_ENV: variables (NAME=VALUE, space-separated) set for A's or B's runs only.
# PRECISION=bfloat16 trains both in bfloat16.
# GRU: compare.sh's sizes (GRU, Bahdanau, emb 256, rnn 512, 64 sentences);
# LSTM: the Multi30k recipe's (LSTM, Luong general, tied embeddings);
# CGRU: the recipe's conditional GRU with layer normalization (cgru-ln-bf16's sizes).
# VALID=N validates (beam 5, on the first 300 training pairs) every N updates, as a
# long training does: the search's allocations change the heap that later updates
# allocate from (bench/RESULTS.md, the tensor cache); the rate is then measured over
# the updates after the first validation. Prints target tokens/s over updates
# 6..UPDATES (or VALID+1..UPDATES), the loss at the last update, and the process's
# CPU seconds and peak memory, A and B alternating. Needs bench/work from
# bench/compare.sh (train.en, train.de, joint8k.spm).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
W="$HERE/work" OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
: "${A:?A=the first build's bin folder}" "${B:?B=the second build's bin folder}"
[[ -f "$W/joint8k.spm" && -f "$W/train.en" ]] || { echo "run bench/compare.sh once first (it makes $W)" >&2; exit 1; }
GRU=(--cell gru --enc-type bidirectional --attention bahdanau --dim-emb 256 --dim-rnn 512 --mini-batch 64)
LSTM=(--cell lstm --enc-type bidirectional --attention luong-general --dim-emb 256 --dim-rnn 512 --mini-batch 64
      --tied-embeddings 1 --tied-embeddings-src)
CGRU=(--cell gru --dec-cell-base-depth 2 --layer-normalization --enc-type bidirectional --attention bahdanau
      --dim-emb 256 --dim-rnn 512 --mini-batch 64 --tied-embeddings 1 --tied-embeddings-src)
VALIDATION=(--valid-freq 0)
if [[ -n "${VALID:-}" ]]; then
  head -n 300 "$W/train.en" > "$OUT/valid.en" && head -n 300 "$W/train.de" > "$OUT/valid.de"
  VALIDATION=(--valid-freq "$VALID" --valid-sets "$OUT/valid.en" "$OUT/valid.de" --valid-metrics bleu --valid-beam-size 5)
fi
run() {  # BIN NAME ENV SIZES...
  local bin=$1 name=$2 vars=$3; shift 3
  rm -rf "$OUT/m"
  # shellcheck disable=SC2086
  /usr/bin/time -f "%U %S %M" -o "$OUT/time" env $vars "$bin/tandem-train" --precision "${PRECISION:-float32}" \
    --model "$OUT/m" --train-sets "$W/train.en" "$W/train.de" --vocabs "$W/joint8k.spm" "$@" \
    --learn-rate 3e-4 --after-updates "${UPDATES:-25}" --disp-freq 1 "${VALIDATION[@]}" --cpu-threads 1 --seed 1 \
    --data-cache none 2> "$OUT/$name.log"
  python3 - "$OUT/m/train.log.jsonl" "$name" "${VALID:-0}" "$OUT/time" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
every = int(sys.argv[3])  # VALID, 0 when there are no validations
start = every or 5        # after the first validation, or after 5 warm-up updates
tokens = seconds = 0.0
for before, row in zip(rows[start:], rows[start + 1:]):  # each update's own time: validations left out
    if every and (row["update"] - 1) % every == 0:
        continue  # this update's display window holds a validation
    tokens += row["target_tokens"] - before["target_tokens"]
    seconds += (row["target_tokens"] - before["target_tokens"]) / row["target_tokens_per_second"]
b = rows[-1]
user, system, rss = open(sys.argv[4]).read().split()[-3:]
print("%-8s %7.1f tok/s  loss@%d %.6f  cpu %.1f s  peak %d MB" % (sys.argv[2], tokens / seconds, b["update"], b["loss"],
      float(user) + float(system), int(rss) // 1024))
PY
}
for cfg in ${CFGS:-GRU LSTM}; do
  declare -n sizes=$cfg
  for _ in $(seq "${ROUNDS:-2}"); do
    run "$A" "A-$cfg" "${A_ENV:-}" "${sizes[@]}"
    run "$B" "B-$cfg" "${B_ENV:-}" "${sizes[@]}"
  done
done
