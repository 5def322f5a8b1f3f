# Shared by the bench/ scripts: options, paths and Multi30k en->de data prepared
# as the peer reads it (joint 8000-piece SentencePiece model, ids per line).
# Sourced, not run. Sets DATA, THREADS, DEVICE, ROOT, BIN, PYTHON, PEER, WORK;
# leaves other options in EXTRA_ARGS for the script.
#   --device cuda   runs Tandem and bench/torch_reference.py (the shared peer
#                   with a --device option) on the GPU; the CPU runs the shared
#                   peer itself. TANDEM_BENCH_PYTHON names the peer's Python
#                   (default /usr/bin/python3, Debian's python3-torch).
#   --peer-blas same|installed
#                   the reference's OpenBLAS kernels. same (default): the ones
#                   Tandem uses, exported as OPENBLAS_CORETYPE for both (Tandem
#                   replaces OpenBLAS's generic Prescott fallback on CPUs that
#                   OpenBLAS does not know, see include/tandem/util/cpu_kernels.h;
#                   the reference would keep it). installed: whatever the
#                   reference's OpenBLAS picks when it loads. BLAS_NOTE says which.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${ROOT}/../shared/data/multi30k"
THREADS=2
DEVICE=cpu
PEER_BLAS=same
EXTRA_ARGS=()
while (($#)); do
  case "$1" in
    --data-dir) DATA="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --device) DEVICE="$2"; shift 2 ;;
    --peer-blas) PEER_BLAS="$2"; shift 2 ;;
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
# The kernels Tandem switches OpenBLAS and LibTorch to, if it does (its note on stderr names them).
KERNEL_NOTE=$("$BIN/tandem-bench" mm --size 64 --seconds 0 --cpu-threads 1 2>&1 | grep "^CPU kernels: " || true)
TANDEM_BLAS_CORE=$(sed -n "s/.*OpenBLAS's \([A-Za-z0-9]*\) kernels.*/\1/p" <<< "$KERNEL_NOTE")
TANDEM_ATEN_CAPABILITY=$(sed -n "s/.*LibTorch's \([a-z0-9]*\) kernels.*/\1/p" <<< "$KERNEL_NOTE")
# INSTALLED_ENV: what `env` needs to undo those exports (the reference as a user runs it).
INSTALLED_ENV=()
case "$PEER_BLAS" in
  same)
    if [[ -n "$TANDEM_BLAS_CORE" && -z "${OPENBLAS_CORETYPE:-}" ]]; then
      export OPENBLAS_CORETYPE="$TANDEM_BLAS_CORE" && INSTALLED_ENV+=(-u OPENBLAS_CORETYPE)
    fi
    if [[ -n "$TANDEM_ATEN_CAPABILITY" && -z "${ATEN_CPU_CAPABILITY:-}" ]]; then
      export ATEN_CPU_CAPABILITY="$TANDEM_ATEN_CAPABILITY" && INSTALLED_ENV+=(-u ATEN_CPU_CAPABILITY)
    fi ;;
  installed) ;;
  *) echo "--peer-blas takes same or installed" >&2; exit 1 ;;
esac
BLAS_NOTE="OpenBLAS kernels: tandem ${TANDEM_BLAS_CORE:-${OPENBLAS_CORETYPE:-as OpenBLAS chose}}, reference ${OPENBLAS_CORETYPE:-as OpenBLAS chose}; LibTorch kernels: tandem ${TANDEM_ATEN_CAPABILITY:-${ATEN_CPU_CAPABILITY:-default}}, reference ${ATEN_CPU_CAPABILITY:-default}"

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

# The sizes of issue 7, for Tandem (the peer's defaults are the same).
SIZES=(--cell gru --enc-type bidirectional --attention bahdanau --dim-emb 256 --dim-rnn 512 --mini-batch 64)

# tandem_model UPDATES: WORK/tandem-UPDATES/model.ckpt, trained once (cached).
tandem_model() {
  [[ -f "$WORK/tandem-$1/model.ckpt" ]] && return
  "$BIN/tandem-train" --model "$WORK/tandem-$1" --train-sets "$WORK/train.en" "$WORK/train.de" \
    --vocabs "$WORK/joint8k.spm" "${SIZES[@]}" --learn-rate 3e-4 --after-updates "$1" \
    --valid-freq 0 --cpu-threads "$THREADS" --device "$DEVICE" 2> "$WORK/tandem-train.log"
}

# Runs a command under /usr/bin/time; its peak RSS (KB) lands in WORK/rss.
timed() { /usr/bin/time -f "%M" -o "$WORK/rss" "$@"; }

# timed_training_rate BATCHES [PRECISION]: trains a fresh model BATCHES updates and prints
# target tokens/s after update 5 (the peer's warm-up), from the JSON log.
timed_training_rate() {
  rm -rf "$WORK/tandem-model"
  timed "$BIN/tandem-train" --model "$WORK/tandem-model" --train-sets "$WORK/train.en" "$WORK/train.de" \
    --vocabs "$WORK/joint8k.spm" "${SIZES[@]}" --learn-rate 3e-4 --after-updates "$1" --precision "${2:-float32}" \
    --disp-freq 1 --valid-freq 0 --cpu-threads "$THREADS" --device "$DEVICE" 2> "$WORK/tandem.log"
  python3 - "$WORK/tandem-model/train.log.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
first, last = rows[4], rows[-1]
print("%.1f" % ((last["target_tokens"] - first["target_tokens"]) / (last["seconds"] - first["seconds"])))
PY
}

# ratio A B: A / B with two decimals
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
