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
#   5. scores: tandem-bleu and exact match for the copy-the-input baseline, the
#      floor any trained model must beat
# Training (tandem-train) and translation (tandem-translate) join these steps as
# they land; then this recipe trains the model and scores its translations.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="${TANDEM_DATES_WORK:-$HERE/work}"
BIN="$ROOT/build/bin"
SEED="${SEED:-1}"
TRAIN_SIZE="${TRAIN_SIZE:-40000}"

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

echo "== scores of the copy-the-input baseline on the test split"
hyp="$WORK/data/test.src"
ref="$WORK/data/test.tgt"
total=$(wc -l < "$ref")
exact=$(paste -d '\t' "$hyp" "$ref" | awk -F '\t' '$1 == $2' | wc -l)
echo "   exact match: $exact / $total"
echo -n "   "
"$BIN/tandem-bleu" "$ref" -i "$hyp" -f text -q
