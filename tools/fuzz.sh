#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/) and prints executions and findings.
#
#   tools/fuzz.sh                          # every target, 600 s each, 2 at a time
#   tools/fuzz.sh --seconds 60 bleu_13a    # one target, one minute
#
# Targets: corpus_reader translate_input bleu_13a bleu_intl bleu_zh bleu_char bleu_none.
# Builds build-sanitize/ first (tools/sanitize.sh's tree, clang, ASan + UBSan).
# Seeds: tests/fuzz/corpus_reader, tests/fuzz/translate_input, tests/fuzz/bleu (all
# BLEU targets). New inputs go to build-sanitize/fuzz/corpus/TARGET, crashes to
# build-sanitize/fuzz/findings/TARGET: fix the bug, then copy the input into the seeds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${TANDEM_SANITIZE_BUILD:-$ROOT/build-sanitize}"
SECONDS_EACH=600 PARALLEL=2 TARGETS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --parallel) PARALLEL="$2"; shift 2 ;;
    --no-build) NO_BUILD=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(corpus_reader translate_input bleu_13a bleu_intl bleu_zh bleu_char bleu_none)
if [[ -z "${NO_BUILD:-}" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DTANDEM_SANITIZE=ON -DTANDEM_FUZZ=ON > /dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target $(printf "fuzz_%s " "${TARGETS[@]}") > /dev/null
fi
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

run_one() {  # run_one TARGET
  local target="$1" seeds="$ROOT/tests/fuzz/$1"
  [[ "$target" == bleu_* ]] && seeds="$ROOT/tests/fuzz/bleu"
  local corpus="$BUILD/fuzz/corpus/$target" findings="$BUILD/fuzz/findings/$target" log="$BUILD/fuzz/$target.log"
  mkdir -p "$corpus" "$findings"
  set +e
  "$BUILD/bin/fuzz_$target" "$corpus" "$seeds" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
    -artifact_prefix="$findings/" -max_len=4096 -timeout=30 -rss_limit_mb=4096 > "$log" 2>&1
  local code=$?
  set -e
  local runs
  runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")
  printf "%-16s %4s s  %10s executions  %5d corpus files  %d findings  (exit %d; %s)\n" "$target" "$SECONDS_EACH" \
    "$runs" "$(ls "$corpus" | wc -l)" "$(ls "$findings" | wc -l)" "$code" "$log"
}
export -f run_one
export ROOT BUILD SECONDS_EACH
printf "%s\n" "${TARGETS[@]}" | xargs -P "$PARALLEL" -I{} bash -c 'run_one {}'
