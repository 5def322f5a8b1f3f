#!/usr/bin/env bash
# The test suite, from a fresh Debian 12 machine: installs what is missing,
# builds build/ (the same configuration as the main job, so after
# recipes/dates/run.sh only the test suite is compiled), and runs the tests.
#
#   tools/run-tests.sh          # the quick tier (ctest -L quick): minutes
#   tools/run-tests.sh --all    # both tiers: also whole recipes, the kill loop, install,
#                               # .deb and the browser (installs Chromium); .ci/run runs this
#   tools/run-tests.sh --slow   # the slow tier only (ctest -L slow)
#
# Each slow test says why it is slow next to its name in CMakeLists.txt
# (TANDEM_SLOW_TESTS). Every wait of a test is bounded by CTest's per-test
# timeout: 240 s in the quick tier, 1200 s in the slow one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tier=quick
case "${1:-}" in
  "") ;;
  --all) tier=all ;;
  --slow) tier=slow ;;
  *) echo "usage: tools/run-tests.sh [--all | --slow]" >&2; exit 2 ;;
esac
if [[ "$tier" == quick ]]; then
  TANDEM_WITH_TEST_PACKAGES=quick "$ROOT/tools/setup.sh"
else
  TANDEM_WITH_TEST_PACKAGES=slow "$ROOT/tools/setup.sh"
fi
cd "$ROOT/build"
jobs="$(nproc 2>/dev/null || echo 2)"
case "$tier" in
  quick) ctest --output-on-failure -j "$jobs" -L quick ;;
  slow) ctest --output-on-failure -j "$jobs" -L slow ;;
  all) ctest --output-on-failure -j "$jobs" ;;
esac
