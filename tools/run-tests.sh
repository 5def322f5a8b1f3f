#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds build/ with warnings as errors, and runs every test with CTest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TANDEM_CMAKE_ARGS="-DTANDEM_WERROR=ON -DTANDEM_BUILD_TESTS=ON ${TANDEM_CMAKE_ARGS:-}" "$ROOT/tools/setup.sh"
cd "$ROOT/build"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 600
