# Shared by the bench/ scripts: options, paths and Multi30k en->de data prepared
# as the peer reads it (joint 8000-piece SentencePiece model, ids per line).
# Sourced, not run. Sets DATA, THREADS, DEVICE, ROOT, BIN, PYTHON, PEER, WORK;
# leaves other options in EXTRA_ARGS for the script.
#   --device cuda   runs Tandem and bench/torch_reference.py (the shared peer
#                   with a --device option) on the GPU; the CPU runs the shared
#                   peer itself. TANDEM_BENCH_PYTHON names the peer's Python
#                   (default /usr/bin/python3, Debian's python3-torch).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${ROOT}/../shared/data/multi30k"
THREADS=2
DEVICE=cpu
EXTRA_ARGS=()
while (($#)); do
  case "$1" in
    --data-dir) DATA="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --device) DEVICE="$2"; shift 2 ;;
    *) EXTRA_ARGS+=("$1"); shift ;;
  esac
done
PEER="$ROOT/../shared/peers/torch_reference.py"
PEER_DEVICE=()  # the shared peer has no --device option: it runs on the CPU
[[ "$DEVICE" == cpu ]] || PEER="$ROOT/bench/torch_reference.py" PEER_DEVICE=(--device "$DEVICE")
PYTHON="${TANDEM_BENCH_PYTHON:-/usr/bin/python3}"
BIN="${TANDEM_BENCH_BIN:-$ROOT/build/bin}"  # build-cuda/bin for --device cuda (bench/build_cuda.sh)
WORK="${TANDEM_BENCH_WORK:-$ROOT/bench/work}"
mkdir -p "$WORK"
[[ -x "$BIN/tandem-translate" ]] || "$ROOT/tools/setup.sh"
"$PYTHON" -c "import torch" 2> /dev/null || { echo "needs python3-torch for the peer: apt-get install python3-torch" >&2; exit 1; }

# prepare_multi30k SPLIT...: WORK/SPLIT.{en,de} as text and as ids
prepare_multi30k() {
  [[ -f "$WORK/joint8k.spm" ]] ||
    "$BIN/tandem-vocab" -i "$DATA/train.en.gz" "$DATA/train.de.gz" -o "$WORK/joint8k.spm" --vocab-size 8000 2> /dev/null
  local split lang
  for split in "$@"; do
    for lang in en de; do
      [[ -f "$WORK/$split.$lang" ]] || zcat "$DATA/$split.$lang.gz" > "$WORK/$split.$lang"
      [[ -f "$WORK/$split.$lang.ids" ]] && continue
      command -v spm_encode > /dev/null || { echo "needs spm_encode (Debian package sentencepiece)" >&2; exit 1; }
      spm_encode --model="$WORK/joint8k.spm" --output_format=id < "$WORK/$split.$lang" > "$WORK/$split.$lang.ids"
    done
  done
}

# ratio A B: A / B with two decimals
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
