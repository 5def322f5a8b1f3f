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
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
DATA="${ROOT}/../shared/data/multi30k"
THREADS=2
BATCHES=60
ROUNDS=2
while (($#)); do
  case "$1" in
    --data-dir) DATA="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --batches) BATCHES="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
PEER="$ROOT/../shared/peers/torch_reference.py"
BIN="$ROOT/build/bin"
WORK="${TANDEM_BENCH_WORK:-$HERE/work}"
mkdir -p "$WORK"
[[ -x "$BIN/tandem-train" ]] || "$ROOT/tools/setup.sh"
command -v spm_encode > /dev/null || { echo "needs spm_encode (Debian package sentencepiece)" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2> /dev/null || { echo "needs python3-torch for the peer: apt-get install python3-torch" >&2; exit 1; }

if [[ ! -f "$WORK/joint8k.spm" ]]; then
  "$BIN/tandem-vocab" -i "$DATA/train.en.gz" "$DATA/train.de.gz" -o "$WORK/joint8k.spm" --vocab-size 8000 2> /dev/null
fi
for lang in en de; do
  [[ -f "$WORK/train.$lang" ]] || zcat "$DATA/train.$lang.gz" > "$WORK/train.$lang"
  [[ -f "$WORK/train.$lang.ids" ]] || spm_encode --model="$WORK/joint8k.spm" --output_format=id < "$WORK/train.$lang" > "$WORK/train.$lang.ids"
done

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
  printf "%-6s %-22s %-22s %s\n" "$round" "$t" "$p" "$(python3 -c "print(f'{$t / $p:.2f}')")"
done
