#!/usr/bin/env bash
# Tiny Shakespeare, character level, as char-rnn trains it: the text as one stream of
# characters, the last 5% held out, validation loss in nats per character.
#
#   recipes/shakespeare/run.sh                       # 2 x 512 LSTM until 50 epochs (resumes)
#   recipes/shakespeare/run.sh --train-minutes 60    # or at most this long in all
#
# Options:
#   --config NAME         a file of configs/ without .ini (default char-lstm)
#   --train-minutes N     training time limit in minutes, counted over resumes (default: none)
#   --data-dir DIR        input.txt, plain or .gz (default ../shared/data/tinyshakespeare, else downloaded)
#   --work DIR            where everything goes (default recipes/shakespeare/work)
#   --threads N           CPU threads (default: all cores)
#   --precision P         float32 (default) or bfloat16: the products of training in bfloat16 (weights,
#                         gradients and the loss stay float32); its work folder is NAME-bfloat16
#   --skip-setup          do not run tools/setup.sh (also TANDEM_SKIP_SETUP=1)
#
# Stages, each skipped when its output exists (training resumes from its last checkpoint):
#   1. data        WORK/data/input.txt checked against SHA256SUMS; train.txt the lines holding the
#                  first 95% of the characters, valid.txt the rest (char-rnn's held-out 5%)
#   2. vocabulary  every character of train.txt (tandem-vocab --model-type char)
#   3. training    tandem-train -c configs/NAME.ini                   -> WORK/NAME/model/
#   4. validation  tandem-score --stream on valid.txt: nats and bits per character -> WORK/NAME/valid.score
#   5. samples     500 characters after "ROMEO:" at temperatures 0.5 and 1.0  -> WORK/NAME/samples-T.txt
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$ROOT/build/bin"
UPSTREAM="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"

CONFIG=char-lstm PRECISION=float32 MINUTES=0 DATA="" WORK="${TANDEM_SHAKESPEARE_WORK:-$HERE/work}" THREADS=0 SKIP_SETUP="${TANDEM_SKIP_SETUP:-0}"
die() { echo "shakespeare: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config) CONFIG="$2"; shift 2 ;;
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
[[ "$PRECISION" == float32 || "$PRECISION" == bfloat16 ]] || die "--precision must be float32 or bfloat16, got '$PRECISION'"

if [[ "$SKIP_SETUP" != 1 ]]; then "$ROOT/tools/setup.sh"; fi

echo "== 1. data"
D="$WORK/data"
mkdir -p "$D"
[[ -z "$DATA" && -d "$ROOT/../shared/data/tinyshakespeare" ]] && DATA="$(cd "$ROOT/../shared/data/tinyshakespeare" && pwd)"
if [[ ! -f "$D/input.txt" ]]; then
  if [[ -n "$DATA" && -f "$DATA/input.txt.gz" ]]; then gunzip -c "$DATA/input.txt.gz" > "$D/input.txt.part"
  elif [[ -n "$DATA" && -f "$DATA/input.txt" ]]; then cp "$DATA/input.txt" "$D/input.txt.part"
  elif [[ -n "$DATA" ]]; then die "$DATA holds neither input.txt nor input.txt.gz"
  else
    echo "   downloading $UPSTREAM"
    curl -fsSL --retry 3 -o "$D/input.txt.part" "$UPSTREAM" || die "could not download $UPSTREAM; give --data-dir DIR"
  fi
  mv "$D/input.txt.part" "$D/input.txt"
fi
(cd "$D" && sha256sum --quiet -c "$HERE/SHA256SUMS") \
  || die "$D/input.txt does not match $HERE/SHA256SUMS (damaged or another release); delete it and run again"
if [[ ! -f "$D/valid.txt" ]]; then
  # Whole lines: the training text ends at the last line that fits in 95% of the characters.
  LC_ALL=C awk -v total="$(wc -c < "$D/input.txt")" -v train="$D/train.txt.part" -v valid="$D/valid.txt.part" \
    '{ n += length($0) + 1; if (n <= 0.95 * total) print > train; else print > valid }' "$D/input.txt"
  mv "$D/train.txt.part" "$D/train.txt"
  mv "$D/valid.txt.part" "$D/valid.txt"
fi
echo "   $D: input.txt matches its checksum; train.txt $(wc -c < "$D/train.txt") characters, valid.txt $(wc -c < "$D/valid.txt")"

echo "== 2. vocabulary"
VOCAB="$WORK/char.spm"
if [[ ! -f "$VOCAB" ]]; then
  "$BIN/tandem-vocab" --input "$D/train.txt" --model-type char --vocab-size 200 --normalization identity \
    --model "$VOCAB.tmp" --quiet > /dev/null
  mv "$VOCAB.tmp" "$VOCAB"
fi
echo "   $VOCAB"

RUN="$WORK/$CONFIG"
[[ "$PRECISION" == float32 ]] || RUN="$WORK/$CONFIG-$PRECISION"
echo "== 3. training ($CONFIG in $PRECISION; log: $RUN/train.log)"
mkdir -p "$RUN"
[[ -f "$RUN/model/model.ckpt" ]] && echo "   resuming from $RUN/model/model.ckpt"
echo "start $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RUN/train.log"
"$BIN/tandem-train" --config "$INI" --model "$RUN/model" --after-time "$MINUTES" --cpu-threads "$THREADS" \
  --precision "$PRECISION" --train-sets "$D/train.txt" --valid-sets "$D/valid.txt" --vocabs "$VOCAB" --disp-freq 50 \
  2>&1 | tee -a "$RUN/train.log" | grep --line-buffered -E "^(valid|stopped|error|interrupted)" | sed "s/^/   /"
echo "end $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RUN/train.log"

echo "== 4. validation loss (the checkpoint best on validation), nats per character"
"$BIN/tandem-score" --models "$RUN/model" --train-sets "$D/valid.txt" --stream --cpu-threads "$THREADS" \
  > "$RUN/valid.score" 2> "$RUN/valid.score.log" || { cat "$RUN/valid.score.log" >&2; die "scoring failed"; }
sed "s/^/   /" "$RUN/valid.score"

echo "== 5. samples (500 characters after 'ROMEO:')"
for temperature in 0.5 1.0; do
  out="$RUN/samples-$temperature.txt"
  "$BIN/tandem-sample" --models "$RUN/model" --stream --prefix "ROMEO:" --length 500 --temperature "$temperature" \
    --seed 1 --cpu-threads "$THREADS" --quiet > "$out" 2> "$out.log" || { cat "$out.log" >&2; die "sampling failed"; }
  echo "   temperature $temperature:"
  sed "s/^/     /" "$out"
done
