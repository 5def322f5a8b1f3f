#!/usr/bin/env bash
# Peak memory of tandem-translate on a stream, against the number of lines:
# flat means nothing grows with the input (lines are read, translated and
# written per maxi-batch).
#
#   bench/translate_memory.sh [--model DIR] [--lines "20000 200000"] [--threads N]
#
# Default model: the dates recipe's (run recipes/dates/run.sh first). Input: the
# dates test split repeated, with hostile lines mixed in (empty, invalid UTF-8,
# CRLF, 5,000-character lines). Prints lines, seconds, peak RSS and the output
# line count, which must equal the input's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL="$ROOT/recipes/dates/work/model" LINES="20000 200000" THREADS=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --lines) LINES="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done
[[ -d "$MODEL" || -f "$MODEL" ]] || { echo "no model at $MODEL; run recipes/dates/run.sh first or give --model" >&2; exit 1; }
SOURCE="$ROOT/recipes/dates/work/data/test.src"
[[ -f "$SOURCE" ]] || { echo "no $SOURCE; run recipes/dates/run.sh first" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
printf "%10s %10s %14s %14s\n" lines seconds "peak RSS MB" "output lines"
for n in $LINES; do
  python3 - "$SOURCE" "$n" > "$WORK/in.txt" <<'PY'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
hostile = ["", "bad \udcff byte", "crlf line\r", "x" * 5000, "   "]
out = sys.stdout.buffer
for i in range(int(sys.argv[2])):
    text = hostile[(i // 97) % len(hostile)] if i % 97 == 0 else lines[i % len(lines)]
    out.write(text.encode("utf-8", "surrogateescape") + b"\n")
PY
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$WORK/rss" "$ROOT/build/bin/tandem-translate" -m "$MODEL" -b 1 --quiet \
    --cpu-threads "$THREADS" < "$WORK/in.txt" > "$WORK/out.txt" 2> "$WORK/err.txt"
  end=$(date +%s.%N)
  printf "%10d %10.1f %14.1f %14d\n" "$n" "$(echo "$end - $start" | bc)" "$(echo "$(tail -n 1 "$WORK/rss") / 1024" | bc -l)" \
    "$(wc -l < "$WORK/out.txt")"
done
