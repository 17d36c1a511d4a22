#!/usr/bin/env bash
# From a fresh Debian 12 machine to generated text: install dependencies, build, and run the bundled
# stories260K model, printing its tokens/s on stderr.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/launch/install-deps.sh"
"$root/launch/build.sh"
build="${SHARDLM_BUILD_DIR:-$root/build}"
exec "$build/shardlm" generate --model "$root/tests/data/stories260K/stories260K.bin" \
  --prompt "${1:-Once upon a time}" --max-new-tokens 200 --temperature 0.8 --top-p 0.9 --seed 42
