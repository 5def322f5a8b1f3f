#!/usr/bin/env bash
# Tandem next to ../shared/peers/torch_reference.py, in one run: the instrument.
#
#   bench/compare.sh [--data-dir DIR] [--threads N] [--device cpu|cuda] [--peer-blas same|installed]
#                    [--rounds N] [--batches N] [--updates N]
#                    [--precisions "float32 bfloat16 int8"] [--shortlist FIRST,BEST]
#
# Same data (Multi30k en->de, joint 8000-piece SentencePiece model), same sizes
# (emb 256, rnn 512, bidirectional GRU encoder, Bahdanau attention, GRU decoder,
# 64 sentences a batch), same thread count. Each round runs every figure for
# Tandem then the reference, A B A B:
#   train    target tokens/s over --batches updates, the first 5 left out (warm-up)
#   beam 1   sentences/s translating test_2016_flickr (1,000), mini-batch 64,
#   beam 5   model loading excluded for both (each program times its own loop)
#   first    seconds from start to the first translated line, one-line input
#            (loading included: what a user waits for)
# and the peak resident memory of every run. With --precisions "float32 bfloat16 int8"
# (the default) Tandem's train, beam 1 and beam 5 figures are also measured with
# --precision bfloat16 (rows train/bf16, ...), and beam 1 and beam 5 with --precision
# int8 (rows beam1/int8, ...; int8 is for translation), against the same reference figure.
# With --shortlist FIRST,BEST (default 100,100; "none" for no rows) the beam 1 and
# beam 5 figures are also measured over a shortlist built from the training pairs
# (tandem-corpus --write-shortlist; rows beam1/sl, beam5/sl; with the other precisions
# too: beam1/bf16+sl, beam1/int8+sl, ...). Translation uses models trained
# --updates updates by each system (cached in bench/work). Prints one table per
# round and the medians; then, where --peer-blas same (the default) gave the reference
# Tandem's kernels, its train, beam 1 and beam 5 once more with the kernels its libraries
# pick when they load, as a user runs it. Ratios: Tandem / reference, except for 'first', where
# lower is better and the ratio is reference / Tandem (above 1: Tandem is faster).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ROUNDS=2 BATCHES=60 UPDATES=300 PRECISIONS="float32 bfloat16 int8" SHORTLIST="100,100"
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --batches) BATCHES="$2"; shift 2 ;;
    --updates) UPDATES="$2"; shift 2 ;;
    --precisions) PRECISIONS="$2"; shift 2 ;;
    --shortlist) SHORTLIST="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
command -v /usr/bin/time > /dev/null || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 1; }
prepare_multi30k train test_2016_flickr

# Models to translate with, trained once by each system.
if [[ ! -f "$WORK/ref-$UPDATES.pt" ]]; then
  "$PYTHON" "$PEER" train --src "$WORK/train.en.ids" --tgt "$WORK/train.de.ids" --vocab 8000 \
    --batches "$UPDATES" --threads "$THREADS" "${PEER_DEVICE[@]}" --save "$WORK/ref-$UPDATES.pt" 2> "$WORK/ref-train.log" > /dev/null
fi
tandem_model "$UPDATES"
head -n 1 "$WORK/test_2016_flickr.en" > "$WORK/one.en"
head -n 1 "$WORK/test_2016_flickr.en.ids" > "$WORK/one.en.ids"

# Each function prints "FIGURE PEAK_RSS_MB"; the run's peak RSS comes from /usr/bin/time.
rss_mb() { echo $(($(tail -n 1 "$WORK/rss") / 1024)); }
json_field() { tail -n 1 "$1" | python3 -c "import json, sys; print('%.1f' % json.load(sys.stdin)['$2'])"; }

tandem_train() { echo "$(timed_training_rate "$BATCHES" "${1:-float32}") $(rss_mb)"; }
PEER_ENV=()  # env's arguments for the reference's runs (the installed kernels' rows: INSTALLED_ENV)
peer_train() {
  timed env "${PEER_ENV[@]+"${PEER_ENV[@]}"}" "$PYTHON" "$PEER" train --src "$WORK/train.en.ids" --tgt "$WORK/train.de.ids" --vocab 8000 \
    --batches "$BATCHES" --threads "$THREADS" "${PEER_DEVICE[@]}" 2> "$WORK/peer.log" > /dev/null
  echo "$(json_field "$WORK/peer.log" target_tokens_per_s) $(rss_mb)"
}
tandem_translate() {  # BEAM [PRECISION [sl]]
  local shortlist=()
  [[ "${3:-}" == sl ]] && shortlist=(--shortlist "$WORK/shortlist-joint8k.txt" "${SHORTLIST%,*}" "${SHORTLIST#*,}")
  timed "$BIN/tandem-translate" -m "$WORK/tandem-$UPDATES/model.ckpt" --beam-size "$1" --mini-batch 64 --precision "${2:-float32}" \
    "${shortlist[@]}" \
    --cpu-threads "$THREADS" --device "$DEVICE" -i "$WORK/test_2016_flickr.en" -o "$WORK/tandem.de" 2> "$WORK/tandem-decode.log"
  echo "$(grep -o '[0-9.]* sentences/s' "$WORK/tandem-decode.log" | tail -n 1 | cut -d' ' -f1 | xargs printf %.1f) $(rss_mb)"
}
peer_translate() {  # BEAM
  timed env "${PEER_ENV[@]+"${PEER_ENV[@]}"}" "$PYTHON" "$PEER" decode --src "$WORK/test_2016_flickr.en.ids" --vocab 8000 \
    --load "$WORK/ref-$UPDATES.pt" --beam "$1" --threads "$THREADS" "${PEER_DEVICE[@]}" > "$WORK/ref.ids" 2> "$WORK/ref-decode.log"
  echo "$(json_field "$WORK/ref-decode.log" sentences_per_s) $(rss_mb)"
}
# Seconds until the first output line exists, polled from outside the process.
first_line() {  # OUTPUT COMMAND...
  local out="$1"; shift
  rm -f "$out"
  local start
  start=$(date +%s.%N)
  timed "$@" &
  local pid=$!
  while [[ ! -s "$out" ]] && kill -0 "$pid" 2> /dev/null; do sleep 0.01; done
  local seen
  seen=$(date +%s.%N)
  wait "$pid"
  echo "$(python3 -c "print('%.2f' % ($seen - $start))") $(rss_mb)"
}
tandem_first() {
  first_line "$WORK/first.de" "$BIN/tandem-translate" -m "$WORK/tandem-$UPDATES/model.ckpt" --beam-size 5 \
    --cpu-threads "$THREADS" --device "$DEVICE" -i "$WORK/one.en" -o "$WORK/first.de" --quiet 2> /dev/null
}
peer_first() {
  first_line "$WORK/first.ids" bash -c "'$PYTHON' '$PEER' decode --src '$WORK/one.en.ids' --vocab 8000 \
    --load '$WORK/ref-$UPDATES.pt' --beam 5 --threads $THREADS ${PEER_DEVICE[*]} > '$WORK/first.ids' 2> /dev/null"
}

# The row name's suffix of a precision: beam5/bf16, beam5/int8 (float32: none).
suffix() { case "$1" in float32) echo "" ;; bfloat16) echo bf16 ;; int8) echo int8 ;; esac; }
FIGURES=() UNITS=()
for figure in train beam1 beam5; do
  for precision in $PRECISIONS; do
    [[ "$precision" =~ ^(float32|bfloat16|int8)$ ]] || { echo "unknown precision $precision" >&2; exit 1; }
    [[ $figure == train && $precision == int8 ]] && continue  # int8 translates only
    if [[ $precision == float32 ]]; then FIGURES+=("$figure"); else FIGURES+=("$figure/$(suffix "$precision")"); fi
    [[ $figure == train ]] && UNITS+=("target tok/s") || UNITS+=("sent/s")
  done
done
if [[ "$SHORTLIST" != none ]]; then
  [[ -f "$WORK/shortlist-joint8k.txt" ]] || "$BIN/tandem-corpus" -t "$WORK/train.en" "$WORK/train.de" \
    --vocabs "$WORK/joint8k.spm" --write-shortlist "$WORK/shortlist-joint8k.txt" --cpu-threads "$THREADS" > /dev/null
  for figure in beam1 beam5; do
    for precision in $PRECISIONS; do
      [[ $precision == float32 ]] && FIGURES+=("$figure/sl") || FIGURES+=("$figure/$(suffix "$precision")+sl")
      UNITS+=("sent/s")
    done
  done
fi
FIGURES+=("first") UNITS+=("s to first line")
declare -A RESULT PEER_FIGURE
gpu=""
[[ "$DEVICE" == cpu ]] || gpu=", device $DEVICE: $("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name())')"
echo "threads $THREADS, $ROUNDS rounds, $(date -u +%F) $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)$gpu; $BLAS_NOTE"
for ((round = 1; round <= ROUNDS; ++round)); do
  echo "round $round"
  PEER_FIGURE=()
  printf "  %-14s %-16s %-18s %-18s %-10s %s\n" figure unit tandem reference ratio "peak RSS MB tandem / reference"
  for i in "${!FIGURES[@]}"; do
    figure=${FIGURES[$i]}
    case "$figure" in
      train) t=$(tandem_train); p=$(peer_train) ;;
      beam1) t=$(tandem_translate 1); p=$(peer_translate 1) ;;
      beam5) t=$(tandem_translate 5); p=$(peer_translate 5) ;;
      # The other precisions' rows: against the reference's float32 figure of this round (measured once).
      train/bf16) t=$(tandem_train bfloat16); p=${PEER_FIGURE[train]:-$(peer_train)} ;;
      beam[15]/*)
        beam=${figure:4:1} variant=${figure#beam?/} precision=float32 sl=""
        [[ $variant == bf16* ]] && precision=bfloat16
        [[ $variant == int8* ]] && precision=int8
        [[ $variant == *sl ]] && sl=sl
        t=$(tandem_translate "$beam" "$precision" $sl); p=${PEER_FIGURE[beam$beam]:-$(peer_translate "$beam")} ;;
      first) t=$(tandem_first); p=$(peer_first) ;;
    esac
    PEER_FIGURE[$figure]="$p"
    read -r tv tr <<< "$t"
    read -r pv pr <<< "$p"
    RESULT[$figure,t]+="$tv " RESULT[$figure,p]+="$pv " RESULT[$figure,tr]+="$tr " RESULT[$figure,pr]+="$pr "
    r=$([[ $figure == first ]] && ratio "$pv" "$tv" || ratio "$tv" "$pv")
    printf "  %-14s %-16s %-18s %-18s %-10s %s\n" "$figure" "${UNITS[$i]}" "$tv" "$pv" "$r" "$tr / $pr"
  done
done
median() { python3 -c "import statistics, sys; print('%.2f' % statistics.median(float(x) for x in sys.argv[1:]))" $1; }
echo "medians"
printf "  %-14s %-18s %-18s %-10s %s\n" figure tandem reference ratio "peak RSS MB tandem / reference"
for figure in "${FIGURES[@]}"; do
  tm=$(median "${RESULT[$figure,t]}") pm=$(median "${RESULT[$figure,p]}")
  r=$([[ $figure == first ]] && ratio "$pm" "$tm" || ratio "$tm" "$pm")
  printf "  %-14s %-18s %-18s %-10s %s / %s\n" "$figure" "$tm" "$pm" "$r" "$(median "${RESULT[$figure,tr]}")" \
    "$(median "${RESULT[$figure,pr]}")"
done
# The reference as a user runs it, with the kernels its libraries pick when they load, where
# --peer-blas same gave it Tandem's (one measurement each, after the medians).
if ((${#INSTALLED_ENV[@]})); then
  PEER_ENV=("${INSTALLED_ENV[@]}")
  echo "reference with its installed kernels (env ${INSTALLED_ENV[*]}), against the medians above"
  for figure in train beam1 beam5; do
    case "$figure" in
      train) p=$(peer_train) ;;
      beam1) p=$(peer_translate 1) ;;
      beam5) p=$(peer_translate 5) ;;
    esac
    read -r pv pr <<< "$p"
    tm=$(median "${RESULT[$figure,t]}")
    printf "  %-14s %-18s %-18s %-10s %s\n" "$figure" "$tm" "$pv" "$(ratio "$tm" "$pv")" "reference peak RSS $pr MB"
  done
else
  echo "reference with its installed kernels: the same as above (nothing was exported for it)"
fi
