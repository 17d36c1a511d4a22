#!/usr/bin/env bash
# From a fresh Debian 12 machine to generated text: install dependencies, build, fetch SmolLM2-135M-
# Instruct (falling back to the bundled stories260K when it cannot be fetched), and generate,
# printing tokens/s and peak memory on stderr. An argument replaces the prompt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/launch/install-deps.sh"
"$root/launch/build.sh"
build="${SHARDLM_BUILD_DIR:-$root/build}"
if model="$("$root/launch/fetch-models.sh")"; then
  prompt="${1:-$(printf 'Question: Please write a function in Python that transforms bytes to Giga bytes.\n\nAnswer:')}"
  exec "$build/shardlm" generate --model "$model" --prompt "$prompt" --max-new-tokens 128 --temperature 0
fi
echo "quickstart: SmolLM2 could not be fetched; using the bundled stories260K" >&2
exec "$build/shardlm" generate --model "$root/tests/data/stories260K/stories260K.bin" \
  --prompt "${1:-Once upon a time}" --max-new-tokens 200 --temperature 0.8 --top-p 0.9 --seed 42
