#!/usr/bin/env bash
# Language models on Multi30k: raw text -> SentencePiece -> trained LSTM LM -> perplexity and samples.
#
#   recipes/lm/run.sh                                   # English, subword LSTM LM, 20 minutes
#   recipes/lm/run.sh --config lstm-char                # the same on characters
#   recipes/lm/run.sh --lang de --train-minutes 60
#
# Options:
#   --lang L              language among en de fr cs (default en)
#   --config NAME         a file of configs/ without .ini: lstm-subword (default), lstm-char
#                         (a *-char name selects a character vocabulary)
#   --data-dir DIR        the raw Multi30k task 1 files (as recipes/multi30k/run.sh takes them)
#   --work DIR            where everything goes (default recipes/lm/work)
#   --train-minutes N     training time limit in minutes, counted over resumes (default 20)
#   --threads N           CPU threads (default: all cores)
#   --samples N           sentences sampled at each temperature (default 10)
#   --skip-setup          do not run tools/setup.sh (also TANDEM_SKIP_SETUP=1)
#
# Stages, each skipped when its output exists (training resumes from its last checkpoint):
#   1. data        check (or download) train, val, test_2016_flickr against SHA256SUMS
#   2. vocabulary  unigram, 8000 pieces (subword.spm), or every character (char.spm)
#   3. training    tandem-train --type lm, validated by perplexity on val   -> WORK/L/CONFIG/model/
#   4. test        tandem-score --summary on test_2016_flickr: cross entropy, perplexity per
#                  piece, bits per character                                  -> .../CONFIG/test.score
#   5. samples     tandem-sample at temperatures 0.7 and 1.0                  -> .../CONFIG/samples-T.txt
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$ROOT/build/bin"

LANG_=en CONFIG=lstm-subword DATA="${MULTI30K_DATA:-}" WORK="${TANDEM_LM_WORK:-$HERE/work}"
MINUTES=20 THREADS=0 SAMPLES=10 SKIP_SETUP="${TANDEM_SKIP_SETUP:-0}"
die() { echo "lm: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lang) LANG_="$2"; shift 2 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --data-dir) DATA="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --train-minutes) MINUTES="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --samples) SAMPLES="$2"; shift 2 ;;
    --skip-setup) SKIP_SETUP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$LANG_" =~ ^(en|de|fr|cs)$ ]] || die "language '$LANG_' is not one of en de fr cs"
INI="$HERE/configs/$CONFIG.ini"
[[ -f "$INI" ]] || die "no configuration '$CONFIG' (files: $(cd "$HERE/configs" && ls *.ini | sed 's/\.ini//' | tr '\n' ' '))"

if [[ "$SKIP_SETUP" != 1 ]]; then "$ROOT/tools/setup.sh"; fi

LANGDIR="$WORK/$LANG_"
RUN="$LANGDIR/$CONFIG"
mkdir -p "$RUN"

echo "== 1. data ($LANG_)"
# shellcheck source=../multi30k/data.sh
source "$ROOT/recipes/multi30k/data.sh"
multi30k_data "$ROOT" "$WORK" "$LANG_"

echo "== 2. vocabulary"
VOCAB="$LANGDIR/subword.spm" VOCAB_ARGS=(--vocab-size 8000) VOCAB_KIND="unigram, 8000 pieces"
if [[ "$CONFIG" == *-char ]]; then
  VOCAB="$LANGDIR/char.spm" VOCAB_ARGS=(--model-type char --vocab-size 1000) VOCAB_KIND="every character"
fi
if [[ -f "$VOCAB" ]]; then
  echo "   $VOCAB exists"
else
  "$BIN/tandem-vocab" --input "$DATA/train.$LANG_.gz" "${VOCAB_ARGS[@]}" --model "$VOCAB.tmp" \
    --cpu-threads "$THREADS" > "$VOCAB.log" 2>&1 || { cat "$VOCAB.log" >&2; die "vocabulary training failed"; }
  mv "$VOCAB.tmp" "$VOCAB"
  echo "   $VOCAB: $VOCAB_KIND"
fi

echo "== 3. training ($CONFIG, at most $MINUTES minutes; log: $RUN/model/train.log)"
if [[ -f "$RUN/train.done" ]]; then
  echo "   $RUN/train.done exists"
else
  [[ -f "$RUN/model/model.ckpt" ]] && echo "   resuming from $RUN/model/model.ckpt"
  mkdir -p "$RUN/model"
  start=$(date +%s)
  "$BIN/tandem-train" --type lm --config "$INI" --model "$RUN/model" --cpu-threads "$THREADS" \
    --train-sets "$DATA/train.$LANG_.gz" --valid-sets "$DATA/val.$LANG_.gz" --vocabs "$VOCAB" \
    --valid-metrics perplexity cross-entropy --valid-freq 500 --early-stopping 5 --after-time "$MINUTES" \
    --disp-freq 100 \
    2>&1 | tee -a "$RUN/model/train.log" | grep --line-buffered -E "^(valid|stopped|error)" | sed "s/^/   /"
  echo "$(( $(date +%s) - start )) s of this run; $(tail -n 1 "$RUN/model/train.log")" > "$RUN/train.done"
fi

echo "== 4. perplexity on test_2016_flickr (the best checkpoint by validation, else the last)"
if [[ ! -f "$RUN/test.score" ]]; then
  "$BIN/tandem-score" --models "$RUN/model" --train-sets "$DATA/test_2016_flickr.$LANG_.gz" \
    --summary --cpu-threads "$THREADS" > "$RUN/test.score.tmp" 2> "$RUN/test.score.log" \
    || { cat "$RUN/test.score.log" >&2; die "scoring failed"; }
  mv "$RUN/test.score.tmp" "$RUN/test.score"
fi
sed "s/^/   /" "$RUN/test.score"

echo "== 5. samples ($SAMPLES at each temperature)"
for temperature in 0.7 1.0; do
  out="$RUN/samples-$temperature.txt"
  if [[ ! -f "$out" ]]; then
    "$BIN/tandem-sample" --models "$RUN/model" -n "$SAMPLES" --temperature "$temperature" \
      --seed 1 --cpu-threads "$THREADS" --quiet > "$out.tmp" 2> "$out.log" || { cat "$out.log" >&2; die "sampling failed"; }
    mv "$out.tmp" "$out"
  fi
  echo "   temperature $temperature:"
  sed "s/^/     /" "$out"
done
