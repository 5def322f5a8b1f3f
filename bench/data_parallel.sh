#!/usr/bin/env bash
# Data-parallel training and corpora of millions of pairs, measured in one run.
#
#   bench/data_parallel.sh [--data-dir DIR] [--only "workers corpus"] [--updates N] [--sizes "N ..."]
#
# workers  tandem-train at bench/compare.sh's sizes (Multi30k en->de, joint 8000 pieces,
#          emb 256, rnn 512, bidirectional GRU, Bahdanau, 64 sentences a batch), --updates
#          updates (default 60), A B C A B C:
#            1x2  one process, 2 CPU threads
#            2x1  two workers (--num-processes 2), 1 thread each: each update sums two
#                 mini-batches, so it equals 1x1 with --optimizer-delay 2
#            1x1d one process, 1 thread, --optimizer-delay 2 (the same updates, one worker)
#          target tokens/s (the log's figure, the first 10 updates left out) and, for 2x1,
#          the share of an update spent in all-reduce (waiting for the other worker included)
# corpus   for each size in --sizes (default 100000 1000000 10000000), Multi30k's training
#          pairs repeated to that many pairs; tandem-train --after-updates 1 twice: cold
#          (tokenizing into the id cache) and warm (the cache reused): seconds from start to
#          the end of the first update and the peak RSS (/usr/bin/time)
# The machine's load average is printed with every table.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PARTS="workers corpus"
UPDATES=60
SIZES_LIST="100000 1000000 10000000"
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --only) PARTS="$2"; shift 2 ;;
    --updates) UPDATES="$2"; shift 2 ;;
    --sizes) SIZES_LIST="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
prepare_multi30k train
load() { cut -d' ' -f1-3 /proc/loadavg; }

# mean_speed DIR: mean target tokens/s and all-reduce share of the log lines after update 10.
mean_speed() {
  python3 - "$1/train.log.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"type":"train"' in l]
rows = [r for r in rows if r["update"] > 10]
speed = sum(r["target_tokens_per_second"] for r in rows) / len(rows)
share = sum(r.get("all_reduce_share", 0) for r in rows) / len(rows)
print(f"{speed:.0f} {100 * share:.1f}")
PY
}

if [[ " $PARTS " == *" workers "* ]]; then
  echo "== workers: target tokens/s, $UPDATES updates, load before: $(load)"
  printf "%-6s %10s %14s\n" run tok/s all-reduce%
  declare -A RUNS=([1x2]="--cpu-threads 2" [2x1]="--num-processes 2 --cpu-threads 2" [1x1d]="--cpu-threads 1 --optimizer-delay 2")
  for round in 1 2; do
    for run in 1x2 2x1 1x1d; do
      dir="$WORK/dp-$run"
      rm -rf "$dir"
      # shellcheck disable=SC2086
      "$BIN/tandem-train" --model "$dir" --train-sets "$WORK/train.en" "$WORK/train.de" --vocabs "$WORK/joint8k.spm" \
        "${SIZES[@]}" --learn-rate 3e-4 --after-updates "$UPDATES" --valid-freq 0 --disp-freq 5 --data-cache none \
        ${RUNS[$run]} 2> "$dir.log"
      read -r speed share < <(mean_speed "$dir")
      printf "%-6s %10s %14s   (round %d)\n" "$run" "$speed" "$([[ $run == 2x1 ]] && echo "$share" || echo -)" "$round"
    done
  done
  echo "   load after: $(load)"
fi

if [[ " $PARTS " == *" corpus "* ]]; then
  echo "== corpus: seconds to the first update and peak RSS (MB), load before: $(load)"
  printf "%-10s %8s %10s %8s %10s\n" pairs cold_s cold_MB warm_s warm_MB
  for size in $SIZES_LIST; do
    data="$WORK/big-$size"
    mkdir -p "$data"
    for lang in en de; do
      [[ -f "$data/train.$lang" ]] && continue
      awk -v n="$size" '{ line[NR] = $0 } END { for (i = 0; i < n; i++) print line[i % NR + 1] }' \
        "$WORK/train.$lang" > "$data/train.$lang"
    done
    row=("$size")
    rm -rf "$data/model"
    for start in cold warm; do
      rm -f "$data/model/model.ckpt"
      /usr/bin/time -f "%e %M" -o "$data/time.$start" "$BIN/tandem-train" --model "$data/model" \
        --train-sets "$data/train.en" "$data/train.de" --vocabs "$WORK/joint8k.spm" "${SIZES[@]}" \
        --after-updates 1 --valid-freq 0 --cpu-threads "$THREADS" 2> "$data/train.$start.log"
      read -r seconds kb < "$data/time.$start"
      row+=("$seconds" "$((kb / 1024))")
    done
    printf "%-10s %8s %10s %8s %10s\n" "${row[@]}"
  done
  echo "   load after: $(load)"
fi
