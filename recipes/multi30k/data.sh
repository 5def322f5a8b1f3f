# Multi30k task 1 raw files, checked against SHA256SUMS; sourced by recipes/multi30k/run.sh
# and recipes/lm/run.sh (not run on its own).
#
#   multi30k_data ROOT WORK LANG...   # sets DATA to the folder holding train/val/test_2016_flickr.LANG.gz
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
