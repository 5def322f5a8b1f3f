# Shared by the bench/ scripts: options, paths and Multi30k en->de data prepared
# as the peer reads it (joint 8000-piece SentencePiece model, ids per line).
# Sourced, not run. Sets DATA, THREADS, ROOT, BIN, PEER, WORK; leaves other
# options in EXTRA_ARGS for the script.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${ROOT}/../shared/data/multi30k"
THREADS=2
EXTRA_ARGS=()
while (($#)); do
  case "$1" in
    --data-dir) DATA="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) EXTRA_ARGS+=("$1"); shift ;;
  esac
done
PEER="$ROOT/../shared/peers/torch_reference.py"
BIN="$ROOT/build/bin"
WORK="${TANDEM_BENCH_WORK:-$ROOT/bench/work}"
mkdir -p "$WORK"
[[ -x "$BIN/tandem-translate" ]] || "$ROOT/tools/setup.sh"
command -v spm_encode > /dev/null || { echo "needs spm_encode (Debian package sentencepiece)" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2> /dev/null || { echo "needs python3-torch for the peer: apt-get install python3-torch" >&2; exit 1; }

# prepare_multi30k SPLIT...: WORK/SPLIT.{en,de} as text and as ids
prepare_multi30k() {
  [[ -f "$WORK/joint8k.spm" ]] ||
    "$BIN/tandem-vocab" -i "$DATA/train.en.gz" "$DATA/train.de.gz" -o "$WORK/joint8k.spm" --vocab-size 8000 2> /dev/null
  local split lang
  for split in "$@"; do
    for lang in en de; do
      [[ -f "$WORK/$split.$lang" ]] || zcat "$DATA/$split.$lang.gz" > "$WORK/$split.$lang"
      [[ -f "$WORK/$split.$lang.ids" ]] ||
        spm_encode --model="$WORK/joint8k.spm" --output_format=id < "$WORK/$split.$lang" > "$WORK/$split.$lang.ids"
    done
  done
}

# ratio A B: A / B with two decimals
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
