#!/usr/bin/env bash
# Fine-tuning measured (issue 31): a model trained on half of the training pairs and then
# fine-tuned (tandem-train --pretrained-model) on the other half, against the same
# configuration trained on all pairs for the same total number of updates.
#
#   recipes/multi30k/finetune.sh --config lstm-luong-ema-bf16 --updates 2000 --threads 1
#
# Options:
#   --src L, --tgt L   languages (default en -> de)
#   --config NAME      a configuration of configs/ (default lstm-luong-ema-bf16)
#   --updates N        updates of each half; the run on all pairs gets 2N (default 2000)
#   --threads N        CPU threads (default: all cores)
#   --beam-size N      beam of the test translations (default 5)
#   --data-dir DIR, --work DIR, --skip-setup   as for run.sh
#
# Into WORK/SRC-TGT/finetune-CONFIG-N/, each stage skipped when its output exists (so the same
# command continues after an interruption; training resumes from its checkpoint):
#   halves   the training pairs' odd lines (half1) and even lines (half2)
#   first    CONFIG on half1 for N updates                                 -> first/model
#   tuned    --pretrained-model first/model/model.best-bleu.ckpt on half2, N updates -> tuned/model
#   whole    CONFIG on all pairs for 2N updates                            -> whole/model
#   then test_2016_flickr translated by each (beam 5), BLEU and chrF (cased, detokenized),
#   and the paired bootstrap of tuned against whole (tandem-bleu --paired-bs) -> results.txt
# Each run validates every 500 updates (BLEU first, so each model folder translates with its
# best-BLEU weights) and never stops early: the update counts are the comparison.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$ROOT/build/bin"

SRC=en TGT=de CONFIG=lstm-luong-ema-bf16 DATA="${MULTI30K_DATA:-}" WORK="${TANDEM_MULTI30K_WORK:-$HERE/work}"
UPDATES=2000 THREADS=0 BEAM=5 SKIP_SETUP="${TANDEM_SKIP_SETUP:-0}"
die() { echo "multi30k finetune: $*" >&2; exit 1; }
# shellcheck source=data.sh
source "$HERE/data.sh"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --src) SRC="$2"; shift 2 ;;
    --tgt) TGT="$2"; shift 2 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --updates) UPDATES="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --beam-size) BEAM="$2"; shift 2 ;;
    --data-dir) DATA="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --skip-setup) SKIP_SETUP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$UPDATES" =~ ^[1-9][0-9]*$ ]] || die "--updates takes a positive count of updates, not '$UPDATES'"
multi30k_config "$HERE" "$CONFIG"
[[ "$CONFIG" != *-char ]] || die "a character configuration is not measured here: choose a subword one"

if [[ "$SKIP_SETUP" != 1 ]]; then "$ROOT/tools/setup.sh"; fi

echo "== data ($SRC -> $TGT)"
multi30k_data "$ROOT" "$WORK" "$SRC" "$TGT"
PAIR="$WORK/$SRC-$TGT"
OUT="$PAIR/finetune-$CONFIG-$UPDATES"
mkdir -p "$OUT"
multi30k_vocab "$BIN" "$PAIR" "$DATA" "$SRC" "$TGT" "$CONFIG" "$THREADS"

echo "== halves of the training pairs (odd and even lines)"
for lang in "$SRC" "$TGT"; do
  for half in 1 2; do
    f="$OUT/half$half.$lang.gz"
    [[ -f "$f" ]] && continue
    gzip -dc "$DATA/train.$lang.gz" | awk -v h="$half" 'NR % 2 == h % 2' | gzip > "$f.tmp"
    mv "$f.tmp" "$f"
  done
done
echo "   $(gzip -dc "$OUT/half1.$SRC.gz" | wc -l) and $(gzip -dc "$OUT/half2.$SRC.gz" | wc -l) pairs"

# train NAME UPDATES SOURCE TARGET [OPTION...]: a run to exactly UPDATES updates.
train() {
  local name="$1" updates="$2" src="$3" tgt="$4"
  shift 4
  local run="$OUT/$name"
  echo "== $name: $updates updates on $(basename "$src" ".$SRC.gz") (log: $run/model/train.log)"
  if [[ -f "$run/train.done" ]]; then echo "   $run/train.done exists"; return; fi
  mkdir -p "$run/model"
  local start
  start=$(date +%s)
  "$BIN/tandem-train" --config "$INI" --model "$run/model" --cpu-threads "$THREADS" \
    --train-sets "$src" "$tgt" --valid-sets "$DATA/val.$SRC.gz" "$DATA/val.$TGT.gz" --vocabs "$VOCAB" \
    --valid-metrics bleu cross-entropy perplexity --valid-freq 500 --valid-beam-size 5 \
    --early-stopping 0 --after-updates "$updates" --disp-freq 100 "$@" \
    2>&1 | tee -a "$run/model/train.log" | grep --line-buffered -E "^(valid|stopped|error|fine-tuning)" | sed "s/^/   /"
  grep -q "^stopped" "$run/model/train.log" || die "$name did not finish; see $run/model/train.log"
  echo "$(( $(date +%s) - start )) s; $(tail -n 1 "$run/model/train.log")" > "$run/train.done"
}
train first "$UPDATES" "$OUT/half1.$SRC.gz" "$OUT/half1.$TGT.gz"
train tuned "$UPDATES" "$OUT/half2.$SRC.gz" "$OUT/half2.$TGT.gz" \
  --pretrained-model "$OUT/first/model/model.best-bleu.ckpt"
train whole "$((2 * UPDATES))" "$DATA/train.$SRC.gz" "$DATA/train.$TGT.gz"

echo "== test_2016_flickr (beam $BEAM)"
gzip -dc "$DATA/test_2016_flickr.$TGT.gz" > "$OUT/test.ref"
for name in first tuned whole; do
  hyp="$OUT/$name/test.hyp"
  if [[ ! -f "$hyp" ]]; then
    "$BIN/tandem-translate" --models "$OUT/$name/model" --beam-size "$BEAM" --normalize 1 --cpu-threads "$THREADS" \
      --input "$DATA/test_2016_flickr.$SRC.gz" --output "$hyp.tmp" --quiet
    mv "$hyp.tmp" "$hyp"
  fi
done
{
  echo "configuration $CONFIG; $UPDATES updates a half, $((2 * UPDATES)) on all pairs; CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); threads ${THREADS}"
  for name in first tuned whole; do
    printf '%-6s %s; %s\n' "$name" "$("$BIN/tandem-bleu" "$OUT/test.ref" -i "$OUT/$name/test.hyp" -q -f text -m bleu chrf | tr '\n' ' ')" \
      "$(cut -d';' -f1 "$OUT/$name/train.done") of training"
  done
  echo "paired bootstrap, tuned (second system) against whole (baseline):"
  "$BIN/tandem-bleu" "$OUT/test.ref" -i "$OUT/whole/test.hyp" "$OUT/tuned/test.hyp" --paired-bs -m bleu chrf -q
} | tee "$OUT/results.txt" | sed "s/^/   /"
