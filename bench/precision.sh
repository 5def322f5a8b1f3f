#!/usr/bin/env bash
# bfloat16 and shortlists against float32 and the whole vocabulary, in one run (issue 14).
#
#   bench/precision.sh [--threads N] [--rounds N] [--batches N] [--model DIR] [--shortlist FIRST,BEST]
#
# Figures, A B A B per round:
#   train     Tandem's target tokens/s at compare.sh's sizes, float32 and bfloat16
#             (--batches updates, the first 5 left out), and the reference's on the
#             same batches (../shared/peers/torch_reference.py): the ratios
#   beam1/5   sentences/s translating test_2016_flickr (1,000), mini-batch 64, with
#             float32, bfloat16, a shortlist, and both; and the BLEU of each (tandem-bleu,
#             detokenized, cased) with its difference to float32 over the whole vocabulary
# --model: the model translated (default: compare.sh's 300-update model; give a
# recipe's trained model folder, e.g. recipes/multi30k/work/en-de/lstm-luong, for
# BLEU that means something). The shortlist is built from the training pairs with
# tandem-corpus --write-shortlist and the model's vocabulary.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ROUNDS=2 BATCHES=40 MODEL="" SHORTLIST="100,100"
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --batches) BATCHES="$2"; shift 2 ;;
    --model) MODEL="$2"; shift 2 ;;
    --shortlist) SHORTLIST="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
prepare_multi30k train test_2016_flickr
[[ -f "$WORK/test_2016_flickr.de" ]] || zcat "$DATA/test_2016_flickr.de.gz" > "$WORK/test_2016_flickr.de"
if [[ -z "$MODEL" ]]; then tandem_model 300; MODEL="$WORK/tandem-300/model.ckpt"; fi
FIRST=${SHORTLIST%,*} BEST=${SHORTLIST#*,}

# The shortlist, from the training pairs and the model's own vocabulary.
VOCAB_DIR=$(mktemp -d)
trap 'rm -rf "$VOCAB_DIR"' EXIT
python3 - "$MODEL" "$VOCAB_DIR" <<'PY'
import os, sys
# The model's vocabulary: the recipe's vocab.spm next to its run, or compare.sh's joint8k.spm.
model, out = sys.argv[1], sys.argv[2]
for c in [os.path.join(os.path.dirname(os.path.abspath(model)), p) for p in ("vocab.spm", "../vocab.spm", "../../vocab.spm")]:
    if os.path.exists(c):
        os.symlink(os.path.abspath(c), os.path.join(out, "vocab.spm")); break
PY
[[ -e "$VOCAB_DIR/vocab.spm" ]] || ln -s "$WORK/joint8k.spm" "$VOCAB_DIR/vocab.spm"
SL="$WORK/shortlist-$(basename "$(dirname "$(readlink -f "$VOCAB_DIR/vocab.spm")")").txt"
"$BIN/tandem-corpus" -t "$WORK/train.en" "$WORK/train.de" --vocabs "$VOCAB_DIR/vocab.spm" --write-shortlist "$SL" \
  --cpu-threads "$THREADS" > /dev/null 2>&1

train_rate() {  # PRECISION
  timed_training_rate "$BATCHES" "$1"
}
peer_rate() {
  "$PYTHON" "$PEER" train --src "$WORK/train.en.ids" --tgt "$WORK/train.de.ids" --vocab 8000 \
    --batches "$BATCHES" --threads "$THREADS" 2> "$WORK/peer.log" > /dev/null
  tail -n 1 "$WORK/peer.log" | python3 -c "import json, sys; print('%.1f' % json.load(sys.stdin)['target_tokens_per_s'])"
}
translate() {  # BEAM PRECISION SHORTLIST(yes/no) -> "sent/s BLEU"
  local extra=()
  [[ "$3" == yes ]] && extra=(--shortlist "$SL" "$FIRST" "$BEST")
  "$BIN/tandem-translate" -m "$MODEL" --beam-size "$1" --mini-batch 64 --precision "$2" "${extra[@]}" \
    --cpu-threads "$THREADS" -i "$WORK/test_2016_flickr.en" -o "$WORK/precision.de" 2> "$WORK/precision.log"
  echo "$(grep -o '[0-9.]* sentences/s' "$WORK/precision.log" | tail -n 1 | cut -d' ' -f1 | xargs printf %.1f)" \
       "$("$BIN/tandem-bleu" "$WORK/test_2016_flickr.de" -i "$WORK/precision.de" -q -b)"
}

echo "threads $THREADS, $ROUNDS rounds, $(date -u +%F) $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model $MODEL; shortlist $SL, first $FIRST, best $BEST"
for ((round = 1; round <= ROUNDS; ++round)); do
  echo "round $round"
  f32=$(train_rate float32); b16=$(train_rate bfloat16); ref=$(peer_rate)
  printf "  train tok/s      float32 %8s  bfloat16 %8s  reference %8s  ratios %s / %s, bfloat16/float32 %s\n" \
    "$f32" "$b16" "$ref" "$(ratio "$f32" "$ref")" "$(ratio "$b16" "$ref")" "$(ratio "$b16" "$f32")"
  for beam in 1 5; do
    read -r s0 b0 <<< "$(translate $beam float32 no)"
    read -r s1 b1 <<< "$(translate $beam bfloat16 no)"
    read -r s2 b2 <<< "$(translate $beam float32 yes)"
    read -r s3 b3 <<< "$(translate $beam bfloat16 yes)"
    printf "  beam %s sent/s    float32 %6s (BLEU %s)  bfloat16 %6s (BLEU %s, %+.2f)  shortlist %6s (BLEU %s, %+.2f)  both %6s (BLEU %s, %+.2f)\n" \
      "$beam" "$s0" "$b0" "$s1" "$b1" "$(python3 -c "print($b1 - $b0)")" "$s2" "$b2" "$(python3 -c "print($b2 - $b0)")" \
      "$s3" "$b3" "$(python3 -c "print($b3 - $b0)")"
  done
done
