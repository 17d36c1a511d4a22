#!/usr/bin/env bash
# Builds ShardLM and runs the whole test suite with ctest; fails when any test fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/launch/install-deps.sh"
"$root/launch/build.sh"
build="${SHARDLM_BUILD_DIR:-$root/build}"
ctest --test-dir "$build" --output-on-failure -j "${SHARDLM_JOBS:-$(nproc)}" --timeout 600
