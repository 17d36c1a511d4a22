#!/usr/bin/env bash
# The sanitizer jobs (CI runs both after ./launch/test.sh); each builds only what it runs (no CUDA,
# no benchmarks) into a build folder of its own and fails on the first report:
#
#   ./launch/sanitize.sh address   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/): the
#                                  unit and kernel tests, the MPI tests at 2 ranks, the serving tests
#   ./launch/sanitize.sh thread    ThreadSanitizer (build-tsan/): the thread pool, engine, batching and
#                                  serving-loop tests, then the gRPC serving tests against a TSan
#                                  `shardlm serve` (the test binary and its clients stay uninstrumented,
#                                  from build/: see "serving tests" below)
#   ./launch/sanitize.sh           both
#
# Like test.sh, the tests run with the rest of the file system read-only where root can arrange it.
# Leaks in MPI's and gRPC's process-lifetime state are suppressed (tests/sanitizers/lsan.supp);
# ShardLM's own are not.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kind="${1:-all}"
case "$kind" in address|thread|all) ;; *) echo "sanitize.sh: expected address, thread or nothing, got '$kind'" >&2; exit 2 ;; esac
"$root/launch/install-deps.sh"
jobs="${SHARDLM_JOBS:-$(nproc)}"
. "$root/launch/temp-dir.sh"
scratch="$(shardlm_make_temp_dir sanitize)"
trap 'shardlm_remove_temp_dir "$scratch"' EXIT
guard="$root/launch/run-read-only.sh"
mpi_env=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader)

build_with() {  # folder, sanitizers, targets...
  local folder="$1" sanitizers="$2"
  shift 2
  cmake -S "$root" -B "$folder" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHARDLM_SANITIZE="$sanitizers" \
    -DSHARDLM_CUDA=OFF -DSHARDLM_BUILD_BENCH=OFF >/dev/null
  cmake --build "$folder" -j "$jobs" --target "$@"
}

# Runs a command with the build folder, the checkout and the scratch folder writable, the rest read-only.
guarded() {
  local build="$1"
  shift
  if [ "$(id -u)" -eq 0 ] && "$guard" "$scratch" -- true 2>/dev/null; then
    "$guard" "$root" "$build" "$scratch" -- env TMPDIR="$scratch" "$@"
  else
    echo "sanitize.sh: read-only guard OFF (needs root and unshare -m)" >&2
    env TMPDIR="$scratch" "$@"
  fi
}

status=0
if [ "$kind" != thread ]; then
  build="${SHARDLM_ASAN_BUILD_DIR:-$root/build-asan}"
  build_with "$build" address,undefined shardlm shardlm_unit_tests shardlm_parallel_tests shardlm_serve_tests
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1"
  export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  echo "== address,undefined: unit and kernel tests"
  guarded "$build" "$build/tests/shardlm_unit_tests" --gtest_brief=1 || status=1
  echo "== address,undefined: MPI tests at 2 ranks"
  # Without leak checking: Open MPI's plugins are unloaded before the report, so their allocations
  # cannot be told from ours (the unit and serving runs check ShardLM's own for leaks).
  guarded "$build" env "${mpi_env[@]}" ASAN_OPTIONS="${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}" \
    mpirun -np 2 --oversubscribe "$build/tests/shardlm_parallel_tests" || status=1
  echo "== address,undefined: serving tests"
  guarded "$build" "$build/tests/shardlm_serve_tests" --gtest_brief=1 || status=1
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi
if [ "$kind" != address ]; then
  build="${SHARDLM_TSAN_BUILD_DIR:-$root/build-tsan}"
  build_with "$build" thread shardlm shardlm_unit_tests
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
  # ThreadSanitizer maps its shadow at fixed addresses that a randomised layout may already use.
  no_aslr=(setarch "$(uname -m)" -R)
  echo "== thread: thread pool, engine, batching and serving-loop tests"
  guarded "$build" "${no_aslr[@]}" "$build/tests/shardlm_unit_tests" --gtest_brief=1 \
    --gtest_filter='ThreadPool*:Engine*:BatchGenerator*:ServingLoop*' || status=1

  echo "== thread: serving tests against a ThreadSanitizer server"
  # Only the server is instrumented. Debian's gRPC, Abseil, protobuf, OpenSSL and cpp-httplib are
  # not: TSan sees just the calls they make into intercepted functions (memmove, epoll_wait, ...) and
  # none of the atomics that order them, so it reports races between two of their own threads that
  # cannot happen. Those calls are ignored (called_from_lib, one line per such library the server
  # loads); every access ShardLM's own code makes, on gRPC's and httplib's handler threads included,
  # is still checked (a counter raced on in the Generate handler is reported). The test binary and
  # the `shardlm client` processes it starts are a plain build: instrumenting them would check only
  # the clients' libraries.
  plain="${SHARDLM_BUILD_DIR:-$root/build}"
  [ -f "$plain/CMakeCache.txt" ] || cmake -S "$root" -B "$plain" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$plain" -j "$jobs" --target shardlm shardlm_serve_tests
  suppressions="$scratch/tsan-grpc.supp"
  uninstrumented='^lib(grpc|gpr|absl_|upb|cares|re2|address_sorting|protobuf|ssl|crypto|cpp-httplib|brotli|z\.)'
  ldd "$build/shardlm" | awk '{print $1}' | grep -E "$uninstrumented" | sed 's/^/called_from_lib:/' >"$suppressions"
  reports="$scratch/tsan-serve"
  guarded "$build" "${no_aslr[@]}" env SHARDLM_TEST_SERVE_BINARY="$build/shardlm" \
    TSAN_OPTIONS="$TSAN_OPTIONS:suppressions=$suppressions:log_path=$reports" \
    "$plain/tests/shardlm_serve_tests" --gtest_brief=1 || status=1
  # A report ends that server (halt_on_error), but one made while it shuts down may not fail a test.
  if compgen -G "$reports.*" >/dev/null; then
    cat "$reports".* >&2
    echo "sanitize.sh: ThreadSanitizer reported in the server (above)" >&2
    status=1
  fi
fi
exit $status
