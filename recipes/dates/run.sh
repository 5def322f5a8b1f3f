#!/usr/bin/env bash
# The main job: dates as people write them -> ISO 8601, from nothing to scores.
#
#   recipes/dates/run.sh            # sets up, builds, runs; about a minute today
#
# Steps:
#   1. set-up: installs missing Debian packages and builds build/ (tools/setup.sh)
#   2. data: generates the corpus from a seed (generate.py), splits sharing no date
#   3. vocabulary: tandem-vocab trains a joint SentencePiece model
#   4. corpus check: tandem-corpus reads the training pairs as training will
#   5. training: tandem-train, validating on the validation split
#   6. translation: tandem-translate (beam 5) of the test split, dates never seen
#   7. scores: exact match and BLEU (tandem-bleu) on the test split, next to the
#      copy-the-input baseline, and a handful of examples
#   8. figures: the learning curves (WORK/curves.svg) and the attention of a date
#      the model never saw (WORK/attention.svg), drawn by tandem-plot
# TRAIN_UPDATES, TRAIN_SIZE, SEED, PRECISION (float32 or bfloat16: the matrix products
# of training and translation), CPU_THREADS (0: every core) and TANDEM_DATES_WORK
# override the defaults;
# TANDEM_SKIP_SETUP=1 skips step 1 (the test suite uses it, the build being done).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="${TANDEM_DATES_WORK:-$HERE/work}"
BIN="$ROOT/build/bin"
SEED="${SEED:-1}"
TRAIN_SIZE="${TRAIN_SIZE:-40000}"
TRAIN_UPDATES="${TRAIN_UPDATES:-3000}"
PRECISION="${PRECISION:-float32}"
CPU_THREADS="${CPU_THREADS:-0}"

# The programs only; tools/run-tests.sh later adds the test suite to the same build.
if [[ "${TANDEM_SKIP_SETUP:-0}" != 1 ]]; then
  "$ROOT/tools/setup.sh" tandem-train tandem-translate tandem-score tandem-vocab tandem-corpus tandem-bleu \
    tandem-sample tandem-checkpoint tandem-bench tandem-plot
fi

echo "== data: $TRAIN_SIZE training pairs, seed $SEED -> $WORK/data"
python3 "$HERE/generate.py" --out "$WORK/data" --seed "$SEED" --train "$TRAIN_SIZE"
paste <(head -n 5 "$WORK/data/train.src") <(head -n 5 "$WORK/data/train.tgt") | sed "s/^/   /"

echo "== vocabulary"
"$BIN/tandem-vocab" --cpu-threads "$CPU_THREADS" --input "$WORK/data/train.src" "$WORK/data/train.tgt" \
  --model "$WORK/vocab.spm" --vocab-size 400 2> "$WORK/vocab.log"

echo "== corpus check"
"$BIN/tandem-corpus" --cpu-threads "$CPU_THREADS" --train-sets "$WORK/data/train.src" "$WORK/data/train.tgt" \
  --vocabs "$WORK/vocab.spm" --mini-batch 64

echo "== training ($TRAIN_UPDATES updates, $PRECISION; the log is $WORK/model/train.log.jsonl)"
DISP_FREQ=$(( TRAIN_UPDATES >= 2500 ? 250 : (TRAIN_UPDATES >= 10 ? TRAIN_UPDATES / 10 : 1) ))  # about 10 points of the curve
rm -rf "$WORK/model"
"$BIN/tandem-train" --model "$WORK/model" --cpu-threads "$CPU_THREADS" \
  --train-sets "$WORK/data/train.src" "$WORK/data/train.tgt" \
  --valid-sets "$WORK/data/valid.src" "$WORK/data/valid.tgt" \
  --vocabs "$WORK/vocab.spm" --cell gru --attention bahdanau --dim-emb 64 --dim-rnn 128 \
  --mini-batch 64 --learn-rate 0.003 --after-updates "$TRAIN_UPDATES" --precision "$PRECISION" \
  --valid-freq 500 --disp-freq "$DISP_FREQ" --valid-metrics bleu cross-entropy --early-stopping 0 \
  2>&1 | grep --line-buffered -E "^(valid|ep|stopped|model)" | sed "s/^/   /"

score() {  # score NAME HYPOTHESES REFERENCES
  local total exact
  total=$(wc -l < "$3")
  exact=$(paste -d '\t' "$2" "$3" | awk -F '\t' '$1 == $2' | wc -l)
  printf "   %-28s exact match %5s%% (%d / %d)   " "$1" "$(awk -v e="$exact" -v t="$total" 'BEGIN {printf "%.1f", 100 * e / t}')" "$exact" "$total"
  "$BIN/tandem-bleu" "$3" -i "$2" -f text -q | sed 's/ [0-9.\/]* (BP.*//'
}
echo "== translating the test split"
"$BIN/tandem-translate" --models "$WORK/model" --beam-size 5 --precision "$PRECISION" --cpu-threads "$CPU_THREADS" \
  --input "$WORK/data/test.src" --output "$WORK/test.out" 2>&1 | grep -v "CPU thread" | sed 's/^/   /'

echo "== scores on the test split"
paste <(head -n 8 "$WORK/data/test.src") <(head -n 8 "$WORK/test.out") | sed "s/^/   /; s/\t/  ->  /"
score "copy-the-input baseline" "$WORK/data/test.src" "$WORK/data/test.tgt"
score "tandem (beam 5)" "$WORK/test.out" "$WORK/data/test.tgt"

echo "== figures"
head -n 1 "$WORK/data/test.src" > "$WORK/attention.src"
"$BIN/tandem-translate" --models "$WORK/model" --beam-size 5 --alignment soft-pieces --quiet --cpu-threads "$CPU_THREADS" \
  --input "$WORK/attention.src" --output "$WORK/attention.out" 2> /dev/null
"$BIN/tandem-plot" attention -m "$WORK/model" --source "$WORK/attention.src" --alignments "$WORK/attention.out" \
  -o "$WORK/attention.svg" 2>&1 | sed "s/^/   /"
"$BIN/tandem-plot" curves "$WORK/model" --labels dates -o "$WORK/curves.svg" 2>&1 | sed "s/^/   /"
