#!/usr/bin/env bash
# Builds ShardLM and runs the whole test suite with ctest; fails when any test fails.
#
# The tests run as root on developers' machines and in CI, so they run with the file systems
# read-only except the checkout, the build folder and a temporary folder of this run's own (their
# TMPDIR): a test that writes or removes anything else fails instead of damaging the machine. Where
# a private mount namespace cannot be made (not root), the suite runs unguarded and says so.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/launch/install-deps.sh"
"$root/launch/build.sh"
# SmolLM2's golden tests need its GGUF; without it they fail and say how to fetch it.
"$root/launch/fetch-models.sh" >/dev/null || echo "test.sh: could not fetch SmolLM2; its golden tests will fail" >&2
build="${SHARDLM_BUILD_DIR:-$root/build}"

. "$root/launch/temp-dir.sh"
scratch="$(shardlm_make_temp_dir test)"
trap 'shardlm_remove_temp_dir "$scratch"' EXIT
suite=(env TMPDIR="$scratch" ctest --test-dir "$build" --output-on-failure -j "${SHARDLM_JOBS:-$(nproc)}" --timeout 600)

guard="$root/launch/run-read-only.sh"
if [ "$(id -u)" -eq 0 ] && "$guard" "$scratch" -- true 2>/dev/null; then
  echo "test.sh: read-only guard on: only $root, $build and $scratch are writable"
  status=0
  "$guard" "$root" "$build" "$scratch" -- "${suite[@]}" || status=$?
  echo "test.sh: ran under the read-only guard (exit $status)"
  exit $status
fi
echo "test.sh: read-only guard OFF (needs root and a private mount namespace, unshare -m): running unguarded" >&2
"${suite[@]}"
