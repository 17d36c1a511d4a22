#!/usr/bin/env bash
# Builds ShardLM and runs the whole test suite with ctest; fails when any test fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/launch/install-deps.sh"
"$root/launch/build.sh"
# SmolLM2's golden tests need its GGUF; without it they fail and say how to fetch it.
"$root/launch/fetch-models.sh" >/dev/null || echo "test.sh: could not fetch SmolLM2; its golden tests will fail" >&2
build="${SHARDLM_BUILD_DIR:-$root/build}"
ctest --test-dir "$build" --output-on-failure -j "${SHARDLM_JOBS:-$(nproc)}" --timeout 600
