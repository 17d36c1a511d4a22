#!/usr/bin/env bash
# Configures and builds ShardLM into build/ (Release, Ninja). Extra arguments go to CMake, e.g.
# ./launch/build.sh -DSHARDLM_CUDA=OFF
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SHARDLM_BUILD_DIR:-$root/build}"
jobs="${SHARDLM_JOBS:-$(nproc)}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build" -j "$jobs"
