#!/usr/bin/env bash
# Fetch a GPT-2 from the Hugging Face Hub and convert it to an llm.c model file, on a machine with
# internet; then copy the .bin to the offline cluster.
#
#   scripts/download_gpt2.sh [--bf16] NAME [DIR]           download, verify, convert -> DIR/NAME.bin
#   scripts/download_gpt2.sh [--bf16] --local HF_DIR NAME [DIR]   skip the download: verify nothing, convert HF_DIR
#
# NAME: gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2 (or any "org/name" GPT-2 repository).
# DIR defaults to models/, where train_gpt2 and test_memorization look for --model_name NAME (the
# five names above; --model_dir DIR for another DIR). Any other model is used by its path:
# train_gpt2 --model_name DIR/NAME.bin, test_memorization --model_path DIR/NAME.bin.
# Downloads go to DIR/hf/NAME/ and resume after an interruption (curl -C -). Every file's size, and
# the sha256 of the large (LFS) files, are checked against what the Hub's API publishes; any
# mismatch stops the script. MEMLENS_HF_METADATA=FILE uses a saved API answer instead of asking the
# Hub, MEMLENS_HF_ENDPOINT=URL another endpoint than https://huggingface.co (a mirror; the tests).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
HUB=${MEMLENS_HF_ENDPOINT:-https://huggingface.co}
FILES=(config.json model.safetensors vocab.json merges.txt tokenizer_config.json generation_config.json)
OPTIONAL=" tokenizer_config.json generation_config.json "   # not every repository has them

err() { echo "download_gpt2.sh: error: $*" >&2; exit 1; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# flags may come before or after NAME and DIR; "--" ends them (for a DIR that starts with -)
bf16=() local_dir= positional=()
while [ $# -gt 0 ]; do
  case $1 in
    --bf16) bf16=(--bf16); shift ;;
    --local) [ $# -ge 2 ] && [ -n "$2" ] || err "--local needs a Hugging Face model directory"; local_dir=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; positional+=("$@"); break ;;
    -*) err "unknown flag '$1' (see --help)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -ge 1 ] && [ ${#positional[@]} -le 2 ] ||
  err "usage: download_gpt2.sh [--bf16] [--local HF_DIR] NAME [DIR] (see --help)"
name=${positional[0]}
dir=${positional[1]:-models}
case $dir in -*) dir=./$dir ;; esac  # a DIR after -- that starts with -: never read as an option
[ "$dir" = / ] || dir=${dir%/}
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$ ]] ||
  err "'$name' is not a Hub model name (e.g. gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2)"
short=${name##*/}
out="$dir/$short.bin"

# verify_file FILE NAME METADATA: size (all files) and sha256 (LFS files) against the Hub's listing
# of NAME. Exit status 3 when the Hub does not list NAME at all.
verify_file() {
  "$PY" - "$@" <<'EOF'
import hashlib, json, os, sys
path, name, metadata = sys.argv[1:4]
siblings = {s["rfilename"]: s for s in json.load(open(metadata)).get("siblings", [])}
if name not in siblings:
    print(f"{name} is not listed by the Hub for this model", file=sys.stderr)
    sys.exit(3)
info = siblings[name]
lfs = info.get("lfs") or {}
size = lfs.get("size", info.get("size"))
if size is None:
    sys.exit(f"the Hub lists no size for {name}; cannot verify it")
if os.path.getsize(path) != size:
    sys.exit(f"{path} has {os.path.getsize(path)} bytes, the Hub says {size}")
if lfs.get("sha256"):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != lfs["sha256"]:
        sys.exit(f"{path} sha256 {h.hexdigest()} differs from the Hub's {lfs['sha256']}")
EOF
}

convert() {
  local hf=$1
  [ -x "$ROOT/convert_hf" ] || make -C "$ROOT" convert_hf >/dev/null || err "cannot build convert_hf (run make)"
  mkdir -p "$dir"
  "$ROOT/convert_hf" --input "$hf" --output "$out" "${bf16[@]}"
  echo
  echo "done: $out"
  case $short in
    gpt2|gpt2-medium|gpt2-large|gpt2-xl|distilgpt2)
      # a pretrained name: --model_name NAME reads <--model_dir>/NAME.bin (--model_dir defaults to models)
      local here="--model_name $short"
      [ "$dir" = models ] || here+=" --model_dir $(printf '%q' "$dir")"
      echo "use it here: ./train_gpt2 $here ...  and  ./test_memorization $here ..."
      echo "or copy it into models/ of the memlens checkout on the cluster, for example:"
      echo "  rsync -avP $(printf '%q' "$out") USER@CLUSTER:/path/to/memlens/models/"
      echo "then, offline there: ./train_gpt2 --model_name $short ...  (--model_name $short reads models/$short.bin)" ;;
    *)
      # any other name is not a pretrained name the programs know: pass the file itself
      local q; q=$(printf '%q' "$out")
      echo "use it by its path: ./train_gpt2 --model_name $q ...  and  ./test_memorization --model_path $q ..."
      echo "or copy it to the cluster, for example:"
      echo "  rsync -avP $q USER@CLUSTER:/path/to/memlens/models/"
      echo "then, offline there: ./train_gpt2 --model_name models/$(printf '%q' "$short.bin") ...  and" \
           "./test_memorization --model_path models/$(printf '%q' "$short.bin") ..." ;;
  esac
}

if [ -n "$local_dir" ]; then
  [ -d "$local_dir" ] || err "--local: $local_dir is not a directory (give a Hugging Face model directory)"
  convert "$local_dir"
  exit 0
fi

command -v curl >/dev/null || err "curl is not installed (apt-get install curl)"
progress=(-sS); [ -t 2 ] && progress=(--progress-bar)   # a progress bar for people, quiet in logs
hf="$dir/hf/$short"
mkdir -p "$hf"
metadata="$hf/.hub_metadata.json"
if [ -n "${MEMLENS_HF_METADATA:-}" ]; then
  cp "$MEMLENS_HF_METADATA" "$metadata"
else
  curl -fsSL --retry 3 -o "$metadata" "$HUB/api/models/$name?blobs=true" ||
    err "cannot fetch $HUB/api/models/$name (check the name and the internet connection)"
fi

for f in "${FILES[@]}"; do
  rc=0; why=$(verify_file "$hf/$f" "$f" "$metadata" 2>&1) || rc=$?
  [ -f "$hf/$f" ] && [ $rc -eq 0 ] && { echo "have $hf/$f (verified)"; continue; }
  if [ $rc -eq 3 ]; then
    [[ $OPTIONAL == *" $f "* ]] && continue
    err "$name has no $f on the Hub (only safetensors GPT-2 repositories are supported)"
  fi
  # A .part that is already complete (interrupted before the rename) would make the resume ask for
  # bytes past the end (HTTP 416): take it as it is.
  if [ -f "$hf/$f.part" ] && verify_file "$hf/$f.part" "$f" "$metadata" 2>/dev/null; then
    mv "$hf/$f.part" "$hf/$f"; echo "have $hf/$f (verified, from an interrupted run)"; continue
  fi
  echo "fetching $HUB/$name/resolve/main/$f"
  # .part is resumed with -C - after an interruption; it becomes $f only once verified.
  curl -fL "${progress[@]}" --retry 3 -C - -o "$hf/$f.part" "$HUB/$name/resolve/main/$f" ||
    err "download of $f failed; rerun the same command to resume"
  why=$(verify_file "$hf/$f.part" "$f" "$metadata" 2>&1) || {
    rm -f "$hf/$f.part"
    err "$f failed verification ($why); the partial file was removed, rerun to download again"
  }
  mv "$hf/$f.part" "$hf/$f"
done
convert "$hf"
