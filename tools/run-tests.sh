#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds build/ (the same configuration as the main job, so after
# recipes/dates/run.sh only the test suite is compiled), and runs every test with CTest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TANDEM_WITH_TEST_PACKAGES=1 "$ROOT/tools/setup.sh"
cd "$ROOT/build"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 900
