#!/usr/bin/env bash
# Translation speed, Tandem next to ../shared/peers/torch_reference.py, in one run.
#
#   bench/translate_speed.sh [--data-dir DIR] [--threads N] [--updates N]
#
# Trains each system for the same number of updates at the reference sizes
# (Multi30k en->de, joint 8000-piece vocabulary, emb 256, rnn 512,
# bidirectional GRU, Bahdanau attention, 64 sentences a batch, lr 3e-4), then
# translates test_2016_flickr (1,000 sentences) with beam 1 and beam 5,
# mini-batch 64, alternating reference / Tandem. Prints sentences per second
# (model loading excluded for both), the ratio, and each output's BLEU.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
UPDATES=300
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --updates) UPDATES="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
command -v /usr/bin/time > /dev/null || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 1; }
prepare_multi30k train test_2016_flickr

if [[ ! -f "$WORK/ref-$UPDATES.pt" ]]; then
  /usr/bin/python3 "$PEER" train --src "$WORK/train.en.ids" --tgt "$WORK/train.de.ids" --vocab 8000 \
    --batches "$UPDATES" --threads "$THREADS" --save "$WORK/ref-$UPDATES.pt" 2> "$WORK/ref-train.log" > /dev/null
fi
if [[ ! -f "$WORK/tandem-$UPDATES/model.ckpt" ]]; then
  "$BIN/tandem-train" --model "$WORK/tandem-$UPDATES" --train-sets "$WORK/train.en" "$WORK/train.de" \
    --vocabs "$WORK/joint8k.spm" --cell gru --enc-type bidirectional --attention bahdanau \
    --dim-emb 256 --dim-rnn 512 --mini-batch 64 --learn-rate 3e-4 --after-updates "$UPDATES" \
    --valid-freq 0 --cpu-threads "$THREADS" 2> "$WORK/tandem-train.log"
fi

bleu() { "$BIN/tandem-bleu" "$WORK/test_2016_flickr.de" -i "$1" -b -q; }
echo "threads $THREADS, $UPDATES training updates each, test_2016_flickr (1000 sentences), mini-batch 64, $(date -u +%F) $(git -C "$ROOT" rev-parse --short HEAD)"
printf "%-6s %-24s %-24s %-7s %s\n" beam "tandem sent/s (BLEU)" "reference sent/s (BLEU)" ratio "tandem peak RSS / reference peak RSS"
for beam in 1 5; do
  /usr/bin/time -f "%M" -o "$WORK/ref.rss" /usr/bin/python3 "$PEER" decode --src "$WORK/test_2016_flickr.en.ids" --vocab 8000 \
    --load "$WORK/ref-$UPDATES.pt" --beam "$beam" --threads "$THREADS" > "$WORK/ref.ids" 2> "$WORK/ref-decode.log"
  spm_decode --model="$WORK/joint8k.spm" --input_format=id < "$WORK/ref.ids" > "$WORK/ref.de"
  ref_speed=$(tail -n 1 "$WORK/ref-decode.log" | python3 -c 'import json, sys; print("%.1f" % json.load(sys.stdin)["sentences_per_s"])')
  /usr/bin/time -f "%M" -o "$WORK/tandem.rss" "$BIN/tandem-translate" -m "$WORK/tandem-$UPDATES/model.ckpt" --beam-size "$beam" \
    --mini-batch 64 --cpu-threads "$THREADS" -i "$WORK/test_2016_flickr.en" -o "$WORK/tandem.de" 2> "$WORK/tandem-decode.log"
  tandem_speed=$(grep -o '[0-9.]* sentences/s' "$WORK/tandem-decode.log" | tail -n 1 | cut -d' ' -f1)
  printf "%-6s %-24s %-24s %-7s %s\n" "$beam" "$(printf %.1f "$tandem_speed") ($(bleu "$WORK/tandem.de"))" \
    "$ref_speed ($(bleu "$WORK/ref.de"))" "$(ratio "$tandem_speed" "$ref_speed")" \
    "$(($(cat "$WORK/tandem.rss") / 1024)) MB / $(($(cat "$WORK/ref.rss") / 1024)) MB"
done
