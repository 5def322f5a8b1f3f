#!/usr/bin/env bash
# The main job: dates as people write them -> ISO 8601, from nothing to scores.
#
#   recipes/dates/run.sh            # sets up, builds, runs; about a minute today
#
# What it does today, with the parts of Tandem that exist:
#   1. set-up: installs missing Debian packages and builds build/ (tools/setup.sh)
#   2. data: generates the corpus from a seed (generate.py), splits sharing no date
#   3. vocabulary: tandem-vocab trains a joint SentencePiece model
#   4. corpus check: tandem-corpus reads the training pairs as training will
#   5. training: tandem-train, validating on the validation split
#   6. scores: exact match and BLEU of the validation translations, next to the
#      copy-the-input baseline
# Translating the test split joins these steps with tandem-translate.
# TRAIN_UPDATES, TRAIN_SIZE and SEED override the defaults.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="${TANDEM_DATES_WORK:-$HERE/work}"
BIN="$ROOT/build/bin"
SEED="${SEED:-1}"
TRAIN_SIZE="${TRAIN_SIZE:-40000}"
TRAIN_UPDATES="${TRAIN_UPDATES:-3000}"

"$ROOT/tools/setup.sh"

echo "== data: $TRAIN_SIZE training pairs, seed $SEED -> $WORK/data"
python3 "$HERE/generate.py" --out "$WORK/data" --seed "$SEED" --train "$TRAIN_SIZE"
paste <(head -n 5 "$WORK/data/train.src") <(head -n 5 "$WORK/data/train.tgt") | sed "s/^/   /"

echo "== vocabulary"
"$BIN/tandem-vocab" --input "$WORK/data/train.src" "$WORK/data/train.tgt" \
  --model "$WORK/vocab.spm" --vocab-size 400 2> "$WORK/vocab.log"

echo "== corpus check"
"$BIN/tandem-corpus" --train-sets "$WORK/data/train.src" "$WORK/data/train.tgt" \
  --vocabs "$WORK/vocab.spm" --mini-batch 64

echo "== training ($TRAIN_UPDATES updates; the log is $WORK/model/train.log.jsonl)"
rm -rf "$WORK/model"
"$BIN/tandem-train" --model "$WORK/model" \
  --train-sets "$WORK/data/train.src" "$WORK/data/train.tgt" \
  --valid-sets "$WORK/data/valid.src" "$WORK/data/valid.tgt" \
  --vocabs "$WORK/vocab.spm" --cell gru --attention bahdanau --dim-emb 64 --dim-rnn 128 \
  --mini-batch 64 --learn-rate 0.003 --after-updates "$TRAIN_UPDATES" \
  --valid-freq 500 --disp-freq 250 --valid-metrics bleu cross-entropy --early-stopping 0 \
  2>&1 | grep -E "^(valid|ep|stopped|model)" | sed 's/^/   /'

score() {  # score NAME HYPOTHESES REFERENCES
  local total exact
  total=$(wc -l < "$3")
  exact=$(paste -d '\t' "$2" "$3" | awk -F '\t' '$1 == $2' | wc -l)
  printf "   %-28s exact match %5s%% (%d / %d)   " "$1" "$(awk -v e="$exact" -v t="$total" 'BEGIN {printf "%.1f", 100 * e / t}')" "$exact" "$total"
  "$BIN/tandem-bleu" "$3" -i "$2" -f text -q | sed 's/ [0-9.\/]* (BP.*//'
}
echo "== scores on the validation split"
paste <(head -n 5 "$WORK/data/valid.src") <(head -n 5 "$WORK/model/valid.output") | sed "s/^/   /; s/\t/  ->  /"
score "copy-the-input baseline" "$WORK/data/valid.src" "$WORK/data/valid.tgt"
score "tandem (greedy)" "$WORK/model/valid.output" "$WORK/data/valid.tgt"
