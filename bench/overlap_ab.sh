#!/usr/bin/env bash
# A/B of --all-reduce-overlap on two namespace machines (tools/netns-cluster.sh), the
# link shaped to $1 (e.g. 1gbit): 2 machines x 1 worker, one thread each, 20 updates at
# bench/compare.sh's sizes, twice each, alternated; needs bench/work from bench/cluster_scaling.sh.
#   bench/overlap_ab.sh 1gbit
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"; BIN=$ROOT/build/bin; WORK=$ROOT/bench/work; CL=$ROOT/tools/netns-cluster.sh
SIZES=(--cell gru --enc-type bidirectional --attention bahdanau --dim-emb 256 --dim-rnn 512 --mini-batch 64)
$CL up abo 2 $1 >/dev/null
trap "$CL down abo" EXIT
port=29900
for round in 1 2; do for ov in 0 1; do
  dir=$WORK/ab-$1-ov$ov-r$round; rm -rf $dir; port=$((port+1))
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 LOCAL_RANK=0 MASTER_ADDR=10.77.0.1 MASTER_PORT=$port $CL exec abo $((r+1)) $BIN/tandem-train --model $dir --train-sets $WORK/train.en $WORK/train.de --vocabs $WORK/joint8k.spm "${SIZES[@]}" --learn-rate 3e-4 --after-updates 20 --valid-freq 0 --disp-freq 1 --data-cache none --cpu-threads 1 --dropout-rnn 0 --quiet --all-reduce-overlap $ov 2>/dev/null &
  done; wait
  python3 - $dir/train.log.jsonl $ov $round <<'PY'
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1]) if '"type":"train"' in l]
rows=[r for r in rows if r['update']>=5]; a,b=rows[0],rows[-1]
ms=1000*(b['seconds']-a['seconds'])/(b['update']-a['update']); tps=(b['target_tokens']-a['target_tokens'])/(b['seconds']-a['seconds'])
share=sum(r['all_reduce_share'] for r in rows[1:])/(len(rows)-1)
print(f"overlap {sys.argv[2]} round {sys.argv[3]}: {ms:.0f} ms/update, {tps:.0f} tok/s, all-reduce+wait {100*share:.1f}%, loss at 20 {b['loss']:.6f}")
PY
done; done
