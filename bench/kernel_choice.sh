#!/usr/bin/env bash
# Is Tandem's kernel choice the fastest this machine offers? (issue 29)
#
#   bench/kernel_choice.sh [--threads N] [--rounds R] [--seconds S] [--tolerance PERCENT]
#
# tandem-bench mm --candidates (2048^3, float32 then bfloat16) measures every product kernel
# this CPU runs, in R alternating rounds, best round each: OpenBLAS's core types for the CPU's
# features and oneDNN's. Twice for float32: with the environment as it is, and with
# OPENBLAS_CORETYPE removed, where Tandem's own choice (include/tandem/util/cpu_kernels.h)
# runs. Exits 1 when Tandem's own choice is slower than the fastest candidate by more than
# PERCENT (default 10, the noise of one round on a shared 2-core machine). The "peak" lines are
# what bench/scaling.sh divides by.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${TANDEM_BENCH_BIN:-$ROOT/build/bin}"
THREADS=$(nproc) ROUNDS=3 SECONDS_EACH=2 TOLERANCE=10
while (($#)); do
  case "$1" in
    --threads) THREADS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --tolerance) TOLERANCE="$2"; shift 2 ;;
    *) echo "unknown option $1 (see the head of $0)" >&2; exit 1 ;;
  esac
done
[[ -x "$BIN/tandem-bench" ]] || { echo "no $BIN/tandem-bench: build first (tools/setup.sh)" >&2; exit 1; }
echo "$(date -u +%F) $(git -C "$ROOT" rev-parse --short HEAD), $THREADS thread(s), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), flags:$(grep -m1 -o -w -E 'avx2|avx512f|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' '| sed 's/^/ /'); load $(cut -d' ' -f1-3 /proc/loadavg)"
# measure DTYPE [ENV ARGUMENT...]: tandem-bench's candidates for DTYPE, under `env ENV ARGUMENT...`.
measure() {
  local dtype=$1
  shift
  env "$@" "$BIN/tandem-bench" mm --candidates --cpu-threads "$THREADS" --rounds "$ROUNDS" --seconds "$SECONDS_EACH" \
    --dtype "$dtype" 2>&1 | grep -v "^tandem-bench: "
}
status=0
if [[ -n "${OPENBLAS_CORETYPE:-}" ]]; then
  echo "== float32, the environment's OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
  measure float32
fi
echo "== float32, Tandem's choice (OPENBLAS_CORETYPE unset)"
own=$(measure float32 -u OPENBLAS_CORETYPE)
echo "$own"
echo "== bfloat16"
bf16=$(measure bfloat16)
echo "$bf16"
for result in "$own" "$bf16"; do
  if [[ "$result" == *"in float32 on this CPU"* ]]; then
    echo "bfloat16: Tandem's programs run --precision bfloat16 in float32 on this CPU (no AVX-512): nothing to choose"
    continue
  fi
  share=$(sed -n 's/^peak .*: \([0-9.]*\)% of the peak$/\1/p' <<< "$result")
  [[ -n "$share" ]] || { echo "no peak line in tandem-bench's output" >&2; exit 1; }
  if awk -v s="$share" -v t="$TOLERANCE" 'BEGIN { exit !(s < 100 - t) }'; then
    echo "FAIL: Tandem's kernels reach $share% of the fastest candidate (tolerance $TOLERANCE%)"
    status=1
  fi
done
[[ $status == 0 ]] && echo "ok: Tandem's own choice is the fastest candidate within $TOLERANCE%"
exit $status
