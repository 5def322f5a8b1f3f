#!/usr/bin/env bash
# Builds Tandem's programs against the LibTorch inside a pip-installed PyTorch
# (which carries CUDA), into build-cuda/, for `bench/compare.sh --device cuda`.
# Debian's LibTorch has no CUDA; a GPU machine's PyTorch wheel has the headers,
# libraries and CMake files (../shared/ENVIRONMENT.md, "A GPU, when one is lent").
#
#   bench/build_cuda.sh [--python PYTHON] [--prefix DIR]...
#
#   --python  the Python whose torch to build against (default: python3)
#   --prefix  a folder holding what the machine lacks (Boost.Program_options,
#             SentencePiece, ICU, zlib headers and libraries), for example
#             Debian packages unpacked with `dpkg -x PACKAGE.deb DIR`; repeatable.
#             The programs find its libraries through their run path; libraries
#             those load in turn need DIR/usr/lib/x86_64-linux-gnu in LD_LIBRARY_PATH.
# The tests are not built (GoogleTest is not needed); the CPU build stays in build/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=python3
PREFIXES=()
while (($#)); do
  case "$1" in
    --python) PYTHON="$2"; shift 2 ;;
    --prefix) PREFIXES+=("$(cd "$2" && pwd)"); shift 2 ;;
    *) echo "unknown option $1; see the comment at the top of $0" >&2; exit 1 ;;
  esac
done
torch_cmake="$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')" ||
  { echo "$PYTHON has no torch: name one that does with --python" >&2; exit 1; }
prefix_path="$torch_cmake"
include_path=""
library_path=""
for p in "${PREFIXES[@]+"${PREFIXES[@]}"}"; do
  prefix_path+=";$p/usr;$p/usr/lib/x86_64-linux-gnu/cmake"
  include_path+="${include_path:+;}$p/usr/include"
  library_path+="${library_path:+;}$p/usr/lib/x86_64-linux-gnu"
done
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S "$ROOT" -B "$ROOT/build-cuda" "${generator[@]+"${generator[@]}"}" -DCMAKE_BUILD_TYPE=Release \
  -DTANDEM_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$prefix_path" -DCMAKE_INCLUDE_PATH="$include_path" \
  -DCMAKE_LIBRARY_PATH="$library_path" -DCMAKE_BUILD_RPATH="${library_path//;/:}"
cmake --build "$ROOT/build-cuda" -j "$(nproc)" --target tandem-train tandem-translate tandem-vocab tandem-checkpoint \
  tandem-bleu
echo "built $ROOT/build-cuda/bin against $torch_cmake"
