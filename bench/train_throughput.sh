#!/usr/bin/env bash
# Training throughput, Tandem next to ../shared/peers/torch_reference.py, in one run.
#
#   bench/train_throughput.sh [--data-dir DIR] [--threads N] [--batches N] [--rounds N]
#
# Same data (Multi30k en->de train, joint 8000-piece SentencePiece model), same
# sizes (emb 256, rnn 512, bidirectional GRU encoder, Bahdanau attention, GRU
# decoder, 64 sentences a batch), same thread count; runs alternate A B A B.
# Prints target tokens per second after warm-up (first 5 batches left out) for
# each run and the ratio Tandem / reference. Needs python3-torch for the peer.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BATCHES=60
ROUNDS=2
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --batches) BATCHES="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
prepare_multi30k train

tandem_run() {
  rm -rf "$WORK/tandem-model"
  "$BIN/tandem-train" --model "$WORK/tandem-model" --train-sets "$WORK/train.en" "$WORK/train.de" \
    --vocabs "$WORK/joint8k.spm" --cell gru --enc-type bidirectional --attention bahdanau \
    --dim-emb 256 --dim-rnn 512 --mini-batch 64 --learn-rate 3e-4 --after-updates "$BATCHES" \
    --disp-freq 1 --valid-freq 0 --cpu-threads "$THREADS" "$@" 2> "$WORK/tandem.log"
  # target tokens / seconds over the updates after the first 5
  python3 - "$WORK/tandem-model/train.log.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
first, last = rows[4], rows[-1]  # after update 5, as the peer's warm-up
print("%.1f" % ((last["target_tokens"] - first["target_tokens"]) / (last["seconds"] - first["seconds"])))
PY
}

peer_run() {
  /usr/bin/python3 "$PEER" train --src "$WORK/train.en.ids" --tgt "$WORK/train.de.ids" --vocab 8000 \
    --batches "$BATCHES" --threads "$THREADS" 2> "$WORK/peer.log" > /dev/null
  tail -n 1 "$WORK/peer.log" | python3 -c 'import json, sys; print("%.1f" % json.load(sys.stdin)["target_tokens_per_s"])'
}

echo "threads $THREADS, $BATCHES batches of 64 per run, $(date -u +%F) $(git -C "$ROOT" rev-parse --short HEAD)"
printf "%-6s %-22s %-22s %s\n" round "tandem tok/s" "reference tok/s" ratio
for ((round = 1; round <= ROUNDS; ++round)); do
  t=$(tandem_run)
  p=$(peer_run)
  printf "%-6s %-22s %-22s %s\n" "$round" "$t" "$p" "$(ratio "$t" "$p")"
done
