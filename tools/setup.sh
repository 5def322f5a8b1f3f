#!/usr/bin/env bash
# Installs what Tandem needs on Debian 12 (when missing), then configures and
# builds a Release build into build/ (reused when present).
#
#   tools/setup.sh                      # everything: the programs and the test suite
#   tools/setup.sh tandem-train ...     # only these targets (recipes/dates/run.sh: the programs)
#   TANDEM_CMAKE_ARGS="-DX=Y" tools/setup.sh
#
# One configuration serves both README commands (warnings as errors, tests
# configured): the main job builds the programs, and the test command then
# compiles only the test suite on top of them, never the same files again.
#
# Why these packages (iproute2: the tests make machines as network namespaces, tools/netns-cluster.sh):
# - libopenblas0-openmp: Debian's LibTorch calls whatever libblas.so.3 the
#   alternatives system points at; the default reference BLAS is about 11x
#   slower at matrix products than OpenBLAS. The OpenMP flavour matches
#   LibTorch's own OpenMP threads. This script also makes it the active BLAS.
# - libsentencepiece-dev: loaded in a link namespace of its own (see
#   src/vocab/spm_shim/spm_shim.h), because its protobuf clashes with LibTorch's.
# - libsleef-dev: the vector exp and tanh of ATen's Vectorized types, which the
#   fused recurrent cells are written with (src/model/fused_cells_kernels.cpp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${TANDEM_BUILD_DIR:-$ROOT/build}"

PACKAGES=(
  g++ make cmake pkg-config python3 iproute2
  libtorch-dev libgloo-dev libopenblas0-openmp
  libsentencepiece-dev sentencepiece libsleef-dev
  libboost-program-options-dev libboost-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev
  libicu-dev zlib1g-dev nlohmann-json3-dev libcpp-httplib-dev
)
# The slow test tier also drives the server's web page in headless Chromium
# (TANDEM_WITH_TEST_PACKAGES=slow, from tools/run-tests.sh --all and --slow);
# the quick tier needs nothing more than the build.
TEST_PACKAGES=()
# It also trains under Open MPI's mpirun and Debian's torchrun (these two
# without their recommended packages, as the build's), and translates through
# tandem-server with LibreTranslate's JavaScript client (Node.js; the client
# comes from the npm registry into BUILD/npm).
if [[ "${TANDEM_WITH_TEST_PACKAGES:-}" == slow ]]; then
  TEST_PACKAGES+=(chromium)
  PACKAGES+=(openmpi-bin python3-torch nodejs)
fi

missing_of() {  # the packages among "$@" that are not installed
  local package
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      echo "$package"
    fi
  done
}
mapfile -t missing < <(missing_of "${PACKAGES[@]}")
mapfile -t missing_tests < <(missing_of "${TEST_PACKAGES[@]}")

if ((${#missing[@]} + ${#missing_tests[@]} > 0)); then
  if [[ "$(id -u)" != 0 ]]; then
    echo "tandem setup: these Debian packages are missing; install them as root, then run again:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]} ${missing_tests[*]}" >&2
    exit 1
  fi
  echo "tandem setup: installing ${missing[*]} ${missing_tests[*]}" >&2
  apt-get update -q
  # The build's packages without their recommended ones: nothing here needs
  # them, and they add minutes. Chromium keeps its recommended fonts.
  if ((${#missing[@]} > 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  if ((${#missing_tests[@]} > 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing_tests[@]}"
  fi
fi

# npm comes with some Node.js builds (NodeSource's) and as a package of its own with Debian's.
if [[ "${TANDEM_WITH_TEST_PACKAGES:-}" == slow ]] && ! command -v npm > /dev/null; then
  if [[ "$(id -u)" == 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
  else
    echo "tandem setup: npm is missing; as root run: apt-get install -y npm" >&2
  fi
fi
if [[ "${TANDEM_WITH_TEST_PACKAGES:-}" == slow && ! -f "$BUILD_DIR/npm/node_modules/libretranslate/package.json" ]] &&
  command -v npm > /dev/null; then
  mkdir -p "$BUILD_DIR/npm"
  # The server test's LibreTranslate client (ServerLibreTranslateTest).
  timeout 300 npm install --prefix "$BUILD_DIR/npm" --no-audit --no-fund --loglevel=error libretranslate@1.0.1 >&2 ||
    echo "tandem setup: warning: npm could not install the libretranslate client; its test will say so" >&2
fi

# Make OpenBLAS (OpenMP) the BLAS LibTorch calls.
blas_alternative=libblas.so.3-x86_64-linux-gnu
openblas=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
current="$(update-alternatives --query "$blas_alternative" 2>/dev/null | awk '/^Value:/ {print $2}')"
if [[ "$current" != "$openblas" && -e "$openblas" ]]; then
  if [[ "$(id -u)" == 0 ]]; then
    update-alternatives --set "$blas_alternative" "$openblas" >&2
  else
    echo "tandem setup: warning: the active BLAS is $current, which is slow; as root run" >&2
    echo "  update-alternatives --set $blas_alternative $openblas" >&2
  fi
fi

jobs="$(nproc 2>/dev/null || echo 2)"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DTANDEM_WERROR=ON -DTANDEM_BUILD_TESTS=ON \
  ${TANDEM_CMAKE_ARGS:-} >&2
if (($# > 0)); then
  cmake --build "$BUILD_DIR" -j "$jobs" --target "$@" >&2
else
  cmake --build "$BUILD_DIR" -j "$jobs" >&2
fi
