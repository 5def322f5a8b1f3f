#!/usr/bin/env bash
# Data-parallel training across two "machines" (network namespaces joined by a
# bridge, tools/netns-cluster.sh), with each machine's link shaped by tc, next
# to bench/SCALING.md's model. Needs root and iproute2.
#
#   bench/cluster_scaling.sh [--links "none 10gbit 1gbit"] [--updates N] [--megabytes M]
#
# For each link (none: the bridge unshaped):
#   allreduce  tandem-bench allreduce of M MB (default 44.0, the gradients of the model
#              below) among 2 machines x 1 worker and 2 x 2: mean and fastest ms
#   training   tandem-train at bench/compare.sh's sizes (Multi30k en->de, 64 sentences a
#              mini-batch), one CPU thread a worker, --updates updates (default 25):
#              2 machines x 1 worker with --optimizer-delay 1 and 4, and 2 x 2 with 1;
#              ms an update and target tokens/s (all tokens / all time) after the 5th update, and the
#              log's all-reduce share (the wait for the other worker included)
# and, once, one process on one thread with --optimizer-delay 1 and 4: the compute of an
# update (T_c) that the model's prediction T = D x T_c + T_ar starts from.
# The machine's load average is printed with every table. Links cannot be given
# a delay here (this kernel has no netem); tbf shapes the rate only.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LINKS="none 10gbit 1gbit"
UPDATES=25
MEGABYTES=44.0
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --links) LINKS="$2"; shift 2 ;;
    --updates) UPDATES="$2"; shift 2 ;;
    --megabytes) MEGABYTES="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
prepare_multi30k train
load() { cut -d' ' -f1-3 /proc/loadavg; }
CLUSTER="$ROOT/tools/netns-cluster.sh"
NAME=bscale
trap '"$CLUSTER" down $NAME' EXIT
PORT=29720

# update_figures DIR: ms an update, target tokens/s and all-reduce % over the updates after the 5th.
update_figures() {
  python3 - "$1/train.log.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"type":"train"' in l]
rows = [r for r in rows if r["update"] >= 5]
a, b = rows[0], rows[-1]
ms = 1000 * (b["seconds"] - a["seconds"]) / (b["update"] - a["update"])
speed = (b["target_tokens"] - a["target_tokens"]) / (b["seconds"] - a["seconds"])
share = sum(r.get("all_reduce_share", 0) for r in rows[1:]) / (len(rows) - 1)
print(f"{ms:.0f} {speed:.0f} {100 * share:.1f}")
PY
}

# on_machines WORKERS_A_MACHINE COMMAND...: the command as every rank of 2 machines, waited for.
on_machines() {
  local each="$1" rank machine pids=()
  shift
  PORT=$((PORT + 1))
  for ((rank = 0; rank < 2 * each; rank++)); do
    machine=$((rank / each + 1))
    RANK=$rank WORLD_SIZE=$((2 * each)) LOCAL_RANK=$((rank % each)) MASTER_ADDR=10.77.0.1 MASTER_PORT=$PORT \
      "$CLUSTER" exec $NAME $machine "$@" &
    pids+=($!)
  done
  local status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return $status
}

train() {  # DIR ARGS...: one Multi30k training at compare.sh's sizes
  local dir="$1"
  shift
  "$BIN/tandem-train" --model "$dir" --train-sets "$WORK/train.en" "$WORK/train.de" --vocabs "$WORK/joint8k.spm" \
    "${SIZES[@]}" --learn-rate 3e-4 --after-updates "$UPDATES" --valid-freq 0 --disp-freq 1 --data-cache none \
    --cpu-threads 1 --dropout-rnn 0 --quiet "$@"
}

echo "== CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores; $BLAS_NOTE"
echo "== one process, one thread (T_c), load before: $(load)"
printf "%-22s %10s %10s\n" run ms/update tok/s
for delay in 1 4; do
  rm -rf "$WORK/cs-single-d$delay"
  train "$WORK/cs-single-d$delay" --optimizer-delay $delay 2> "$WORK/cs-single-d$delay.log"
  read -r ms speed share < <(update_figures "$WORK/cs-single-d$delay")
  printf "%-22s %10s %10s\n" "1 x 1, delay $delay" "$ms" "$speed"
done

for link in $LINKS; do
  "$CLUSTER" up $NAME 2 $([[ $link == none ]] || echo "$link") > /dev/null
  echo "== link $link: all-reduce of $MEGABYTES MB, load before: $(load)"
  for each in 1 2; do
    on_machines $each "$BIN/tandem-bench" allreduce --megabytes "$MEGABYTES" --repeats 5 2>&1 | grep "^allreduce"
  done
  echo "== link $link: training, load before: $(load)"
  printf "%-22s %10s %10s %12s\n" run ms/update tok/s all-reduce%
  for run in "1 1" "1 4" "2 1"; do
    read -r each delay <<< "$run"
    dir="$WORK/cs-$link-${each}w-d$delay"
    rm -rf "$dir"
    if ! on_machines "$each" bash -c "$(declare -f train); $(declare -p BIN WORK SIZES UPDATES); train $dir --optimizer-delay $delay" \
      2> "$dir.log"; then
      echo "training failed: $dir.log" >&2
      exit 1
    fi
    read -r ms speed share < <(update_figures "$dir")
    printf "%-22s %10s %10s %12s\n" "2 x $each, delay $delay" "$ms" "$speed" "$share"
  done
  "$CLUSTER" down $NAME
done
echo "   load after: $(load)"
