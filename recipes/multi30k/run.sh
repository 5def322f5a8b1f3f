#!/usr/bin/env bash
# Multi30k (task 1): raw text -> SentencePiece -> trained model -> BLEU on test_2016_flickr.
#
#   recipes/multi30k/run.sh                                  # en -> de, GRU + Bahdanau
#   recipes/multi30k/run.sh --src de --tgt en --config lstm-luong --train-minutes 120
#
# Options:
#   --src L, --tgt L      languages among en de fr cs (default en -> de)
#   --config NAME         a file of configs/ without .ini: gru-bahdanau (default), lstm-luong,
#                         gru-bahdanau-char (characters: a *-char name selects a character vocabulary)
#   --data-dir DIR        the raw Multi30k task 1 files (train, val, test_2016_flickr .L.gz);
#                         default $MULTI30K_DATA, else ../shared/data/multi30k next to the
#                         checkout, else a download from the upstream repository (checksummed)
#   --work DIR            where everything goes (default recipes/multi30k/work)
#   --train-minutes N     training time limit in minutes, counted over resumes (default 120)
#   --threads N           CPU threads (default: all cores)
#   --beam-size N         beam of the test translation (default 5)
#   --ensemble A,B[,...]  translate with several finished configurations at once (an ensemble
#                         of their best checkpoints, tandem-translate --models) into
#                         WORK/SRC-TGT/ensemble-A+B/; their vocabularies must be the same.
#                         The weights are chosen on val (BLEU): equal weights, each member
#                         weighted double, each member alone (so the ensemble is never
#                         below its best member on val) and, with three or more members,
#                         each member left out; the tries go to .../weights.txt
#   --skip-setup          do not run tools/setup.sh (also TANDEM_SKIP_SETUP=1)
#
# Stages, each skipped when its output exists, so running the same command again after an
# interruption continues where it stopped (training resumes from its last checkpoint):
#   1. data        check (or download) the raw files against SHA256SUMS
#   2. vocabulary  joint SentencePiece model on both training sides   -> WORK/SRC-TGT/vocab.spm
#                  (vocab-char.spm, every character, for a *-char configuration)
#   3. training    tandem-train with validation BLEU, early stopping  -> .../CONFIG/model/
#   4. translation test_2016_flickr with beam search                   -> .../CONFIG/test.hyp
#   5. scoring     tandem-bleu, 13a, cased, detokenized, raw reference -> .../CONFIG/bleu.json,
#                  chrF2 -> chrf.json, lowercased BLEU (for published figures) -> bleu-lc.json
#   then a results table of every finished run in WORK (summarize.py)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$ROOT/build/bin"

SRC=en TGT=de CONFIG=gru-bahdanau DATA="${MULTI30K_DATA:-}" WORK="${TANDEM_MULTI30K_WORK:-$HERE/work}"
MINUTES=120 THREADS=0 BEAM=5 SKIP_SETUP="${TANDEM_SKIP_SETUP:-0}" ENSEMBLE=""
die() { echo "multi30k: $*" >&2; exit 1; }
# shellcheck source=data.sh
source "$HERE/data.sh"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --src) SRC="$2"; shift 2 ;;
    --tgt) TGT="$2"; shift 2 ;;
    --config) CONFIG="$2"; shift 2 ;;
    --data-dir) DATA="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --train-minutes) MINUTES="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --beam-size) BEAM="$2"; shift 2 ;;
    --ensemble) ENSEMBLE="$2"; shift 2 ;;
    --skip-setup) SKIP_SETUP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for lang in "$SRC" "$TGT"; do
  [[ "$lang" =~ ^(en|de|fr|cs)$ ]] || die "language '$lang' is not one of en de fr cs"
done
[[ "$SRC" != "$TGT" ]] || die "--src and --tgt are both '$SRC'"
MODELS=() WEIGHTS=()
if [[ -n "$ENSEMBLE" ]]; then
  IFS=, read -r -a MEMBERS <<< "$ENSEMBLE"
  (( ${#MEMBERS[@]} >= 2 )) || die "--ensemble takes two or more configurations, comma-separated"
  CONFIG="ensemble-$(IFS=+; echo "${MEMBERS[*]}")"
else
  multi30k_config "$HERE" "$CONFIG"
fi

if [[ "$SKIP_SETUP" != 1 ]]; then "$ROOT/tools/setup.sh"; fi

PAIR="$WORK/$SRC-$TGT"
RUN="$PAIR/$CONFIG"
mkdir -p "$RUN"

echo "== 1. data ($SRC -> $TGT)"
multi30k_data "$ROOT" "$WORK" "$SRC" "$TGT"

if [[ -n "$ENSEMBLE" ]]; then
  echo "== 2-3. the ensemble's members"
  for member in "${MEMBERS[@]}"; do
    [[ -f "$PAIR/$member/train.done" ]] ||
      die "configuration '$member' has not finished training in $PAIR: run it first (--config $member)"
    MODELS+=("$PAIR/$member/model")
    echo "   $PAIR/$member/model"
  done
  echo "== 3. the ensemble's weights on val (BLEU, beam $BEAM)"
  # Candidates: "NAME|MODEL...|WEIGHT..." (a member alone has no weights).
  CANDIDATES=("equal|${MODELS[*]}|")
  for i in "${!MEMBERS[@]}"; do
    weights=()
    for j in "${!MEMBERS[@]}"; do weights+=("$([[ $i == "$j" ]] && echo 2 || echo 1)"); done
    CANDIDATES+=("${MEMBERS[$i]}-double|${MODELS[*]}|${weights[*]}")
  done
  for i in "${!MEMBERS[@]}"; do CANDIDATES+=("${MEMBERS[$i]}-alone|${MODELS[$i]}|"); done
  if (( ${#MEMBERS[@]} >= 3 )); then  # each member left out, at equal weights
    for i in "${!MEMBERS[@]}"; do
      others=()
      for j in "${!MEMBERS[@]}"; do [[ $i == "$j" ]] || others+=("${MODELS[$j]}"); done
      CANDIDATES+=("without-${MEMBERS[$i]}|${others[*]}|")
    done
  fi
  gzip -dc "$DATA/val.$TGT.gz" > "$RUN/val.ref"
  mkdir -p "$RUN/val"
  for candidate in "${CANDIDATES[@]}"; do
    IFS='|' read -r name models weights <<< "$candidate"
    read -r -a models <<< "$models"
    read -r -a weights <<< "$weights"
    out="$RUN/val/$name.hyp"
    if [[ ! -f "$out" ]]; then
      "$BIN/tandem-translate" --models "${models[@]}" ${weights[@]+--weights "${weights[@]}"} --beam-size "$BEAM" \
        --normalize 1 --cpu-threads "$THREADS" --input "$DATA/val.$SRC.gz" --output "$out.tmp" --quiet
      mv "$out.tmp" "$out"
    fi
    bleu=$("$BIN/tandem-bleu" "$RUN/val.ref" -i "$out" -q -b)
    echo "   $name: val BLEU $bleu (weights ${weights[*]:-1})"
  done | tee "$RUN/weights.txt.tmp"
  # The best on val (the first of equals: equal weights before the others).
  BEST_NAME=$(awk '{ gsub(":", "", $1); if (best == "" || $4 > score) { best = $1; score = $4 } } END { print best }' \
    "$RUN/weights.txt.tmp")
  for candidate in "${CANDIDATES[@]}"; do
    IFS='|' read -r name models weights <<< "$candidate"
    if [[ "$name" == "$BEST_NAME" ]]; then
      read -r -a MODELS <<< "$models"
      read -r -a WEIGHTS <<< "$weights"
    fi
  done
  echo "   chosen: $BEST_NAME" | tee -a "$RUN/weights.txt.tmp"
  mv "$RUN/weights.txt.tmp" "$RUN/weights.txt"
else
echo "== 2. vocabulary"
multi30k_vocab "$BIN" "$PAIR" "$DATA" "$SRC" "$TGT" "$CONFIG" "$THREADS"

echo "== 3. training ($CONFIG, at most $MINUTES minutes; log: $RUN/model/train.log)"
if [[ -f "$RUN/train.done" ]]; then
  echo "   $RUN/train.done exists"
else
  [[ -f "$RUN/model/model.ckpt" ]] && echo "   resuming from $RUN/model/model.ckpt"
  mkdir -p "$RUN/model"
  # The language pair, for tandem-server's LibreTranslate API (GET /languages).
  printf '{"source": "%s", "target": "%s"}\n' "$SRC" "$TGT" > "$RUN/model/languages.json"
  start=$(date +%s)
  "$BIN/tandem-train" --config "$INI" --model "$RUN/model" --cpu-threads "$THREADS" \
    --train-sets "$DATA/train.$SRC.gz" "$DATA/train.$TGT.gz" \
    --valid-sets "$DATA/val.$SRC.gz" "$DATA/val.$TGT.gz" --vocabs "$VOCAB" \
    --valid-metrics bleu cross-entropy perplexity --valid-freq 500 --valid-beam-size 5 --valid-normalize 1 \
    --early-stopping 5 --after-time "$MINUTES" --disp-freq 100 \
    2>&1 | tee -a "$RUN/model/train.log" | grep --line-buffered -E "^(valid|stopped|error)" | sed "s/^/   /"
  echo "$(( $(date +%s) - start )) s of this run; $(tail -n 1 "$RUN/model/train.log")" > "$RUN/train.done"
fi
MODELS=("$RUN/model")
fi

echo "== 4. translation of test_2016_flickr (beam $BEAM)"
if [[ -f "$RUN/test.hyp" ]]; then
  echo "   $RUN/test.hyp exists"
else
  "$BIN/tandem-translate" --models "${MODELS[@]}" ${WEIGHTS[@]+--weights "${WEIGHTS[@]}"} --beam-size "$BEAM" \
    --normalize 1 --cpu-threads "$THREADS" --input "$DATA/test_2016_flickr.$SRC.gz" --output "$RUN/test.hyp.tmp" --quiet
  mv "$RUN/test.hyp.tmp" "$RUN/test.hyp"
fi

echo "== 5. BLEU (cased, detokenized, 13a, raw reference)"
gzip -dc "$DATA/test_2016_flickr.$TGT.gz" > "$RUN/test.ref"
"$BIN/tandem-bleu" "$RUN/test.ref" -i "$RUN/test.hyp" -q > "$RUN/bleu.json"
"$BIN/tandem-bleu" "$RUN/test.ref" -i "$RUN/test.hyp" -q -m chrf > "$RUN/chrf.json"
"$BIN/tandem-bleu" "$RUN/test.ref" -i "$RUN/test.hyp" -q -lc > "$RUN/bleu-lc.json"
"$BIN/tandem-bleu" "$RUN/test.ref" -i "$RUN/test.hyp" -q -f text -m bleu chrf | tee "$RUN/bleu.txt" | sed "s/^/   /"
"$BIN/tandem-bleu" "$RUN/test.ref" -i "$RUN/test.hyp" -q -f text -lc | sed "s/^/   lowercased: /"
paste <(gzip -dc "$DATA/test_2016_flickr.$SRC.gz" | head -n 3) <(head -n 3 "$RUN/test.hyp") <(head -n 3 "$RUN/test.ref") \
  | awk -F '\t' '{printf "   src  %s\n   hyp  %s\n   ref  %s\n", $1, $2, $3}'
echo "== summary (all finished runs in $WORK; recipes/multi30k/summarize.py)"
python3 "$HERE/summarize.py" "$WORK" | sed "s/^/   /"
