#!/usr/bin/env bash
# The whole test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   tools/sanitize.sh            # builds build-sanitize/ with clang, runs ctest there
#   tools/sanitize.sh -R Bleu    # extra arguments go to ctest
#
# Any report fails the test that triggered it (halt_on_error); LeakSanitizer is on.
# The fuzz targets are built in the same tree (tools/fuzz.sh uses it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${TANDEM_SANITIZE_BUILD:-$ROOT/build-sanitize}"
if ! command -v clang++ > /dev/null || ! dpkg -s libclang-rt-14-dev > /dev/null 2>&1; then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -q && apt-get install -y -q clang libclang-rt-14-dev
  else
    echo "sanitize: needs clang and libclang-rt-14-dev: sudo apt-get install clang libclang-rt-14-dev" >&2
    exit 1
  fi
fi
"$ROOT/tools/setup.sh" > /dev/null  # the other dependencies
mkdir -p "$BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DTANDEM_SANITIZE=ON -DTANDEM_FUZZ=ON > "$BUILD/configure.log" 2>&1 \
  || { cat "$BUILD/configure.log" >&2; exit 1; }
cmake --build "$BUILD" -j "$(nproc)"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$ROOT/tools/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
cd "$BUILD" && ctest --output-on-failure -j "$(nproc)" --timeout 1200 "$@"
