#!/usr/bin/env bash
# How Tandem's cost grows, and how close training comes to the machine's peak.
#
#   bench/scaling.sh [--data-dir DIR] [--threads N] [--device D] [--only PARTS] [--epochs N]
#
# Multi30k en->de, the sizes of bench/compare.sh, the 300-update model it caches.
# Parts (all by default; --only "length beam" picks some):
#   efficiency  the fastest product rate of this machine (tandem-bench mm --candidates,
#               2048^3, float32 and bfloat16: every kernel the CPU runs), training target tokens/s in each (60 updates, 5 left out), the model's
#               FLOPs per target token (tandem-bench flops, mean training
#               sentence lengths), achieved GFLOP/s and its share of that peak
#   length      translation time against source length 10..200 pieces
#               (32 sentences cut from test_2016_flickr's pieces, beam 5, one batch)
#   beam        against beam size 1..16 (first 256 test sentences, mini-batch 64)
#   batch       against mini-batch size 1..128 (first 256 test sentences, beam 5)
#   corpus      training time for 25%, 50%, 100% of the corpus (--epochs, default 1)
# Tables go to standard output and to bench/results/*.dat; with gnuplot installed
# (Debian package gnuplot-nox) each part is also drawn, bench/results/*.svg.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PARTS="efficiency length beam batch corpus"
EPOCHS=1
set -- "${EXTRA_ARGS[@]+"${EXTRA_ARGS[@]}"}"
while (($#)); do
  case "$1" in
    --only) PARTS="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
RESULTS="${TANDEM_BENCH_RESULTS:-$ROOT/bench/results}"  # where tables and plots go
mkdir -p "$RESULTS"
prepare_multi30k train test_2016_flickr
tandem_model 300
MODEL="$WORK/tandem-300/model.ckpt"
echo "threads $THREADS, device $DEVICE, $(date -u +%F) $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores:" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

# translate FILE BEAM BATCH: prints "seconds output_pieces" from tandem-translate's summary.
translate() {
  "$BIN/tandem-translate" -m "$MODEL" --beam-size "$2" --mini-batch "$3" --cpu-threads "$THREADS" \
    --device "$DEVICE" -i "$1" -o "$WORK/scaling.out" 2> "$WORK/scaling.log"
  grep -o '[0-9]* output pieces in [0-9.e+-]* s' "$WORK/scaling.log" | tail -n 1 | awk '{print $5, $1}'
}
# table NAME HEADER: standard input (whitespace-separated rows) to NAME.dat and the screen.
table() {
  { echo "# $2"; cat; } > "$RESULTS/$1.dat"
  column -t "$RESULTS/$1.dat" | sed 's/^/  /'
}
# plot NAME XLABEL YLABEL [logscale x]: NAME.dat (column 1 against 2) to NAME.svg.
plot() {
  command -v gnuplot > /dev/null || { echo "  (no gnuplot: apt-get install gnuplot-nox to draw $1.svg)"; return; }
  gnuplot <<EOF
set terminal svg size 640,400 dynamic font "sans,11"
set output "$RESULTS/$1.svg"
set title "$1 ($THREADS threads, $DEVICE)"
set xlabel "$2"
set ylabel "$3"
set grid
${4:+set logscale x 2}
plot "$RESULTS/$1.dat" using 1:2 with linespoints pointtype 7 title ""
EOF
  echo "  drawn: bench/results/$1.svg"
}
ms_per_sentence() { python3 -c "print('%.2f' % (1000 * $1 / $2))"; }

for part in $PARTS; do
  case "$part" in
    efficiency)
      echo "efficiency"
      read -r src tgt <<< "$(python3 - "$WORK/train.en.ids" "$WORK/train.de.ids" <<'PY'
import sys
# as tandem-train reads them: eos appended, lines over 100 pieces left out on both sides
pairs = [(len(s.split()) + 1, len(t.split()) + 1) for s, t in zip(open(sys.argv[1]), open(sys.argv[2]))]
pairs = [p for p in pairs if p[0] <= 101 and p[1] <= 101]
print("%.3f %.3f" % (sum(p[0] for p in pairs) / len(pairs), sum(p[1] for p in pairs) / len(pairs)))
PY
)"
      "$BIN/tandem-bench" flops -m "$MODEL" --source-length "$src" --target-length "$tgt" | sed 's/^/  /'
      mflop=$("$BIN/tandem-bench" flops -m "$MODEL" --source-length "$src" --target-length "$tgt" |
        awk '/^training/ {print $2}')
      # Each precision against the fastest product kernel of its type that this machine runs
      # (tandem-bench mm --candidates: every OpenBLAS core type and oneDNN), not against the
      # kernel in use: an environment's OPENBLAS_CORETYPE=Haswell on Zen 5 halves the rate
      # of the kernel in use, and dividing by it overstated the share (issue 29). On a GPU,
      # torch::mm's rate.
      # Where Tandem runs --precision bfloat16 in float32 (a CPU without AVX-512), its
      # training is divided by the float32 peak measured just before.
      for precision in float32 bfloat16; do
        if [[ "$DEVICE" == cpu ]]; then
          peak_line=$("$BIN/tandem-bench" mm --candidates --rounds 2 --dtype "$precision" --cpu-threads "$THREADS" \
            2> /dev/null | grep '^peak')
          [[ "$precision" == float32 ]] && float32_peak_line=$peak_line
          [[ "$peak_line" == *"in float32 on this CPU"* ]] && peak_line=$float32_peak_line
          peak=$(awk '{print $3}' <<< "$peak_line")
        else
          peak=$("$BIN/tandem-bench" mm --dtype "$precision" --cpu-threads "$THREADS" --device "$DEVICE" 2> /dev/null |
            awk '{print $6}')
        fi
        rate=$(timed_training_rate 60 "$precision")
        python3 - "$precision" "$peak" "$rate" "$mflop" <<'PY'
import sys
name = sys.argv[1]
peak, rate, mflop = map(float, sys.argv[2:])
achieved = rate * mflop / 1e3
print("%s_mm_peak_GFLOP/s %.1f" % (name, peak))
print("%s_training_target_tok/s %.1f" % (name, rate))
print("%s_achieved_GFLOP/s %.1f" % (name, achieved))
print("%s_share_of_peak %.1f%%" % (name, 100 * achieved / peak))
PY
      done | { echo "training_MFLOP/target_token $mflop"; cat; } | table efficiency "figure value"
      ;;
    length)
      echo "translation time against source length (32 sentences, beam 5, one batch)"
      for length in 10 20 50 100 200; do
        python3 - "$WORK/test_2016_flickr.en.ids" "$length" 32 > "$WORK/length.ids" <<'PY'
import sys
stream = [t for line in open(sys.argv[1]) for t in line.split()]
n, count = int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    print(" ".join(stream[i * n:(i + 1) * n]))
PY
        spm_decode --model="$WORK/joint8k.spm" --input_format=id < "$WORK/length.ids" > "$WORK/length.en"
        read -r seconds pieces <<< "$(translate "$WORK/length.en" 5 32)"
        echo "$length $(ms_per_sentence "$seconds" 32) $seconds $pieces"
      done | table scaling-length "source_pieces ms/sentence seconds output_pieces"
      plot scaling-length "source length (pieces)" "ms per sentence"
      ;;
    beam)
      echo "translation time against beam size (256 sentences, mini-batch 64)"
      head -n 256 "$WORK/test_2016_flickr.en" > "$WORK/first256.en"
      for beam in 1 2 4 8 16; do
        read -r seconds pieces <<< "$(translate "$WORK/first256.en" "$beam" 64)"
        echo "$beam $(ms_per_sentence "$seconds" 256) $seconds $pieces"
      done | table scaling-beam "beam ms/sentence seconds output_pieces"
      plot scaling-beam "beam size" "ms per sentence" log
      ;;
    batch)
      echo "translation time against mini-batch size (256 sentences, beam 5)"
      head -n 256 "$WORK/test_2016_flickr.en" > "$WORK/first256.en"
      for batch in 1 2 4 8 16 32 64 128; do
        read -r seconds pieces <<< "$(translate "$WORK/first256.en" 5 "$batch")"
        echo "$batch $(ms_per_sentence "$seconds" 256) $seconds $pieces"
      done | table scaling-batch "mini_batch ms/sentence seconds output_pieces"
      plot scaling-batch "mini-batch (sentences)" "ms per sentence" log
      ;;
    corpus)
      echo "training time against corpus size ($EPOCHS epoch(s), no validation)"
      total=$(wc -l < "$WORK/train.en")
      for percent in 25 50 100; do
        lines=$((total * percent / 100))
        head -n "$lines" "$WORK/train.en" > "$WORK/part.en"
        head -n "$lines" "$WORK/train.de" > "$WORK/part.de"
        rm -rf "$WORK/corpus-model"
        start=$(date +%s.%N)
        "$BIN/tandem-train" --model "$WORK/corpus-model" --train-sets "$WORK/part.en" "$WORK/part.de" \
          --vocabs "$WORK/joint8k.spm" "${SIZES[@]}" --learn-rate 3e-4 --after-epochs "$EPOCHS" --valid-freq 0 \
          --cpu-threads "$THREADS" --device "$DEVICE" 2> "$WORK/corpus.log"
        seconds=$(python3 -c "print('%.1f' % ($(date +%s.%N) - $start))")
        tokens=$(grep '"train"' "$WORK/corpus-model/train.log.jsonl" | tail -n 1 |
          python3 -c "import json, sys; print(json.load(sys.stdin)['target_tokens'])")
        echo "$percent $seconds $lines $tokens $(python3 -c "print('%.1f' % ($tokens / $seconds))")"
      done | table scaling-corpus "percent seconds sentences target_tokens target_tok/s"
      plot scaling-corpus "share of the corpus (%)" "seconds to train $EPOCHS epoch(s)"
      ;;
    *) echo "unknown part $part; parts: efficiency length beam batch corpus" >&2; exit 1 ;;
  esac
done
