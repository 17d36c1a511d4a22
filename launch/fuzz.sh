#!/usr/bin/env bash
# libFuzzer over every parser of outside input (tests/fuzz/*_fuzz.cpp), built with Clang, ASan and
# UBSan into build-fuzz/:
#
#   ./launch/fuzz.sh                 60 s per target (CI's short run, with a fixed seed so that runs of
#                                    the same commit explore alike), two at a time
#   ./launch/fuzz.sh 3600            an hour per target (the long run)
#   ./launch/fuzz.sh 600 gguf_fuzz   one target
#
# Seeds come from tests/fuzz/corpus/<target>/ (read only); what a run discovers goes to a scratch
# folder, removed at the end. A crash stops the run with its input saved as
# tests/fuzz/corpus/<target>/crash-<hash>, which the normal build's fuzz_corpus_<target> test then
# replays for good: fix the parser, keep the file. Prints executions, coverage (edges) and corpus size
# per target.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
only="${2:-}"
# The short run is CI's: a fixed seed; longer runs draw a new one each time, to reach further.
seed=0
[ "$seconds" -le 60 ] && seed=1
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2; }
"$root/launch/install-deps.sh"
build="${SHARDLM_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${SHARDLM_JOBS:-$(nproc)}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DSHARDLM_FUZZ=ON -DSHARDLM_CUDA=OFF -DSHARDLM_BUILD_TESTS=OFF -DSHARDLM_BUILD_BENCH=OFF >/dev/null
targets=()
for source in "$root"/tests/fuzz/*_fuzz.cpp; do
  name="$(basename "$source" .cpp)"
  if [ -z "$only" ] || [ "$only" = "$name" ]; then targets+=("$name"); fi
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no target named '$only'" >&2; exit 2; }
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

. "$root/launch/temp-dir.sh"
scratch="$(shardlm_make_temp_dir fuzz)"
trap 'shardlm_remove_temp_dir "$scratch"' EXIT
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

fuzz_one() {
  local name="$1" log="$scratch/$1.log" found="$scratch/$1-corpus"
  mkdir -p "$found"
  # New inputs go to the scratch corpus (first folder); the seeds are read from the repository.
  if TMPDIR="$scratch" "$build/tests/fuzz/$name" -max_total_time="$seconds" -seed="$seed" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$root/tests/fuzz/corpus/$name/" \
       "$found" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1; then
    local runs edges
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    edges="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')"
    echo "fuzz: $name: $runs executions in ${seconds} s, $edges edges covered, $(ls "$found" | wc -l) new inputs"
  else
    echo "fuzz: $name FOUND A CRASH (input saved under tests/fuzz/corpus/$name/crash-*):" >&2
    grep -E 'ERROR|SUMMARY|terminate|what\(\)|#[0-9]+ ' "$log" | head -30 >&2
    return 1
  fi
}

status=0
pids=()
names=()
for name in "${targets[@]}"; do
  fuzz_one "$name" &
  pids+=($!)
  names+=("$name")
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
