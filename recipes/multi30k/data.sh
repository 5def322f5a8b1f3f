# Multi30k task 1 raw files, checked against SHA256SUMS; sourced by recipes/multi30k/run.sh
# and recipes/lm/run.sh (not run on its own).
#
#   multi30k_data ROOT WORK LANG...   # sets DATA to the folder holding train/val/test_2016_flickr.LANG.gz
#   multi30k_vocab BIN PAIR DATA SRC TGT CONFIG THREADS   # sets VOCAB (trained once in PAIR)
#   multi30k_config HERE CONFIG   # sets INI to HERE/configs/CONFIG.ini, or stops naming the choices
#
# DATA (when already set, e.g. from --data-dir) is used as it is; else ../shared/data/multi30k
# next to the checkout; else the files are downloaded into WORK/data from the upstream repository.
MULTI30K_UPSTREAM="https://github.com/multi30k/dataset/raw/master/data/task1/raw"
MULTI30K_SUMS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/SHA256SUMS"

multi30k_data() {
  local root="$1" work="$2" f expected actual
  shift 2
  local files=()
  for split in train val test_2016_flickr; do
    for lang in "$@"; do files+=("$split.$lang.gz"); done
  done
  if [[ -z "${DATA:-}" && -d "$root/../shared/data/multi30k" ]]; then DATA="$(cd "$root/../shared/data/multi30k" && pwd)"; fi
  if [[ -z "${DATA:-}" ]]; then
    DATA="$work/data"
    mkdir -p "$DATA"
    for f in "${files[@]}"; do
      [[ -f "$DATA/$f" ]] && continue
      echo "   downloading $MULTI30K_UPSTREAM/$f"
      curl -fsSL --retry 3 -o "$DATA/$f.part" "$MULTI30K_UPSTREAM/$f" || die "could not download $MULTI30K_UPSTREAM/$f; give --data-dir DIR"
      mv "$DATA/$f.part" "$DATA/$f"
    done
  fi
  for f in "${files[@]}"; do
    [[ -f "$DATA/$f" ]] || die "$DATA/$f is missing; --data-dir must hold the raw task 1 files (train, val, test_2016_flickr .gz)"
    expected=$(awk -v f="$f" '$2 == f {print $1}' "$MULTI30K_SUMS")
    actual=$(sha256sum "$DATA/$f" | cut -d' ' -f1)
    if [[ "$expected" != "$actual" ]]; then
      die "$DATA/$f does not match its checksum in $MULTI30K_SUMS (damaged or a different release); delete it and run again to download it"
    fi
  done
  echo "   $DATA: ${#files[@]} files, checksums match"
}

# The joint vocabulary of a language pair, trained once in PAIR and shared by its configurations.
# Configurations named *-char work on characters: a character vocabulary of every character of
# the training text (--vocab-size is then only an upper bound). Sets VOCAB.
multi30k_vocab() {
  local bin="$1" pair="$2" data="$3" src="$4" tgt="$5" config="$6" threads="$7"
  local args=(--vocab-size 8000) kind="joint unigram model, 8000 pieces"
  VOCAB="$pair/vocab.spm"
  if [[ "$config" == *-char ]]; then
    VOCAB="$pair/vocab-char.spm" args=(--model-type char --vocab-size 1000) kind="joint character model"
  fi
  mkdir -p "$pair"
  exec 9> "$pair/.vocab.lock"
  flock 9  # two configurations started together share one vocabulary, trained once
  if [[ -f "$VOCAB" ]]; then
    echo "   $VOCAB exists"
  else
    "$bin/tandem-vocab" --input "$data/train.$src.gz" "$data/train.$tgt.gz" "${args[@]}" \
      --model "$VOCAB.tmp" --cpu-threads "$threads" > "$VOCAB.log" 2>&1 \
      || { flock -u 9; cat "$VOCAB.log" >&2; die "vocabulary training failed"; }
    mv "$VOCAB.tmp" "$VOCAB"
    echo "   $VOCAB: $kind"
  fi
  flock -u 9
}

# The configuration file of a name; a name without one stops the script, listing the names.
multi30k_config() {
  INI="$1/configs/$2.ini"
  [[ -f "$INI" ]] || die "no configuration '$2' (files: $(cd "$1/configs" && ls *.ini | sed 's/\.ini//' | tr '\n' ' '))"
}
