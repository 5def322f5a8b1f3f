#!/usr/bin/env bash
# Peak memory of building a vocabulary shortlist (tandem-corpus --write-shortlist)
# on corpora of 1 and 10 million pairs, against the same command without it.
#
#   bench/shortlist_memory.sh [--pairs "1000000 10000000"] [--threads N]
#
# The corpora pair each Multi30k en line with an independently drawn de line
# (awk's rand, two seeds), so that the co-occurring (source, target) pieces grow
# toward the vocabulary squared: the worst case for the co-occurrence counts
# (repeating Multi30k's pairs would repeat its co-occurrences). Joint 8000-piece
# vocabulary (bench/common.sh). Each corpus is tokenized once into an id cache
# (--data-cache), then measured warm: without --write-shortlist, and with it.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PAIRS="1000000 10000000"
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --pairs) PAIRS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
prepare_multi30k train
echo "$(date -u +%F) $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores, threads $THREADS:" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| pairs | without: seconds | without: peak RSS | with shortlist: seconds | with: peak RSS | shortlist lines |"
echo "|---|---|---|---|---|---|"
# peak KB and seconds of a command, as "SECONDS KB"
measure() {
  /usr/bin/time -f "%e %M" -o "$WORK/shortlist.time" "$@" > "$WORK/shortlist.out" 2> "$WORK/shortlist.err" ||
    { cat "$WORK/shortlist.err" >&2; exit 1; }
  cat "$WORK/shortlist.time"
}
for n in $PAIRS; do
  dir="$WORK/shortlist-$n"
  mkdir -p "$dir"
  if [[ ! -f "$dir/train.de" ]]; then
    draw() { awk -v n="$n" -v seed="$1" 'BEGIN { srand(seed) } { l[NR] = $0 } END { for (i = 0; i < n; i++) print l[int(rand() * NR) + 1] }' "$2"; }
    draw 1 "$WORK/train.en" > "$dir/train.en"
    draw 2 "$WORK/train.de" > "$dir/train.de"
  fi
  corpus=("$BIN/tandem-corpus" --train-sets "$dir/train.en" "$dir/train.de" --vocabs "$WORK/joint8k.spm"
          --data-cache "$dir" --cpu-threads "$THREADS" --quiet)
  "${corpus[@]}" > /dev/null  # the id cache, once
  read -r s0 m0 < <(measure "${corpus[@]}")
  read -r s1 m1 < <(measure "${corpus[@]}" --write-shortlist "$dir/shortlist.txt")
  echo "| $n | $s0 | $((m0 / 1024)) MB | $s1 | $((m1 / 1024)) MB | $(wc -l < "$dir/shortlist.txt") |"
done
