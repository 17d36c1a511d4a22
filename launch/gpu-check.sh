#!/usr/bin/env bash
# The GPU checks, in one command on a machine with an NVIDIA GPU and its driver (a lent GPU machine:
# CUDA's runtime and PyTorch's CUDA 13 wheels there, none of our Debian packages, no network, and
# perhaps one try: so it never stops at a failing step, and ends with one report of every step).
#
#   launch/gpu-check.sh --bundle    here, after ./launch/build.sh: writes gpu-bundle/ (ignored by git):
#                                   the stripped binaries, the shared libraries they load that a bare
#                                   CUDA machine lacks, and where the test data was built to live;
#                                   fails if it exceeds 48 MiB (what can be carried, with the checkout)
#   launch/gpu-check.sh --dry-run   here: the steps it would run, their time budgets, the bundle's
#                                   size, where cuBLAS and NCCL would be found, the report's skeleton
#   launch/gpu-check.sh             there, in the checkout with gpu-bundle/ carried along
#
# There it finds cuBLAS (libcublas.so.13) and NCCL (libnccl.so.2) where the machine keeps them (the
# wheels' nvidia/cu13/lib or nvidia/<package>/lib under python3's site-packages, torch/lib, or the
# toolkit's lib64) and stops at once, in one line, if the binaries still miss a library. Then each
# step runs under its own time limit and its result is recorded: the GPU tests (every CUDA op against
# kernels/ref, the engine, tp 2 on one GPU, the planner's memory against the GPU's counters), the
# golden tests on the GPU (SmolLM2 only where models/ was carried), compute-sanitizer's memcheck over
# the CUDA tests and racecheck over the tensor-core attention test (where the machine has
# compute-sanitizer), `shardlm generate --device cuda` against the CPU's text (where they first part),
# and bench/gpu_bench.cpp on a Llama-2-7B shape. The report goes to $OUT (else gpu-report/):
# gpu-report.md, gpu-report.json and each step's log; the exit status is non-zero if any step failed.
#
# Overrides, for tests of this script: SHARDLM_GPU_BUNDLE (the bundle folder), SHARDLM_GPU_SITE_PACKAGES
# (colon-separated site-packages folders, instead of python3's), SHARDLM_GPU_CUDA_HOME (for
# /usr/local/cuda), SHARDLM_GPU_STEP_SECONDS (every step's time limit).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="${SHARDLM_GPU_BUNDLE:-$root/gpu-bundle}"
cuda_home="${SHARDLM_GPU_CUDA_HOME:-/usr/local/cuda}"
max_bundle_mib=48

# name | seconds | what: the budget adds up to under 8 minutes (the longest a lent machine's one call
# should take, with its start).
steps=(
  "cuda_tests|100|GPU unit tests: CUDA ops against kernels/ref, engine, tp 2 on one GPU, planned memory"
  "golden_gpu|80|golden tests on the GPU (families, stories260K, SmolLM2 where carried) against transformers"
  "memcheck|90|compute-sanitizer memcheck over the CUDA unit tests"
  "racecheck|40|compute-sanitizer racecheck over the tensor-core attention test"
  "generate|30|shardlm generate --device cuda against the CPU's text (stories260K, 200 greedy tokens)"
  "gpu_bench|120|bench/gpu_bench on Llama-2-7B's shape: bandwidth, decode, prefill, attention, memory"
)

bundle_mib() { du -sm "$bundle" 2>/dev/null | cut -f1; }

# The site-packages folders python3 knows (the GPU machine's python3 is the one holding PyTorch).
site_packages() {
  if [ -n "${SHARDLM_GPU_SITE_PACKAGES:-}" ]; then
    tr ':' '\n' <<<"$SHARDLM_GPU_SITE_PACKAGES"
  else
    python3 -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null
  fi
}

# The first folder holding `library`: the wheels' CUDA 13 layout (nvidia/cu13/lib), a package of its
# own (nvidia/cublas/lib, nvidia/nccl/lib), torch's lib, then the toolkit's.
find_library_dir() {
  local library="$1" site dir
  while read -r site; do
    [ -n "$site" ] || continue
    for dir in "$site/nvidia/cu13/lib" "$site"/nvidia/*/lib "$site/torch/lib"; do
      [ -e "$dir/$library" ] && { echo "$dir"; return 0; }
    done
  done < <(site_packages)
  for dir in "$cuda_home/lib64" "$cuda_home/targets/x86_64-linux/lib"; do
    [ -e "$dir/$library" ] && { echo "$dir"; return 0; }
  done
  return 1
}

libraries_line() {
  local name library dir
  for name in cuBLAS:libcublas.so.13 cuBLASLt:libcublasLt.so.13 NCCL:libnccl.so.2; do
    library="${name#*:}"
    if dir="$(find_library_dir "$library")"; then echo "${name%%:*} $dir"; else echo "${name%%:*} not-found"; fi
  done
}

if [ "${1:-}" = "--bundle" ]; then
  build="${SHARDLM_BUILD_DIR:-$root/build}"
  binaries=("$build/shardlm" "$build/tests/shardlm_unit_tests" "$build/tests/shardlm_golden_tests"
            "$build/bench/shardlm_gpu_bench")
  for binary in "${binaries[@]}"; do
    [ -x "$binary" ] || { echo "gpu-check: $binary is missing: run ./launch/build.sh first" >&2; exit 1; }
  done
  # A fresh folder each time (nothing here removes an old one: delete it yourself to rebuild).
  [ ! -e "$bundle" ] || { echo "gpu-check: $bundle exists: remove it first to make a new bundle" >&2; exit 1; }
  mkdir -p "$bundle/bin" "$bundle/lib"
  cp "${binaries[@]}" "$bundle/bin/"
  strip --strip-unneeded "$bundle"/bin/*
  # Every library the binaries load except the C runtime, the driver, cuBLAS and NCCL, which the
  # machine has (cuBLAS and NCCL, 218 MB, are over what a call carries).
  ldd "${binaries[@]}" | awk '/=> \// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+|libcuda|libnccl|libcublas|libcublasLt)\.so' |
    while read -r library; do cp -L "$library" "$bundle/lib/"; done
  strip --strip-unneeded "$bundle"/lib/* 2>/dev/null || true
  echo "$root" > "$bundle/built-in"  # the tests find their data under the checkout they were built in
  size="$(bundle_mib)"
  echo "gpu-check: gpu-bundle/ is ${size} MiB (limit ${max_bundle_mib})"
  [ "$size" -le "$max_bundle_mib" ] || { echo "gpu-check: the bundle is over ${max_bundle_mib} MiB" >&2; exit 1; }
  exit 0
fi

if [ "${1:-}" = "--dry-run" ]; then
  total=0
  echo "gpu-check --dry-run: the steps, each under its time limit"
  for step in "${steps[@]}"; do
    IFS='|' read -r name seconds what <<<"$step"
    printf '  %-10s %4s s  %s\n' "$name" "$seconds" "$what"
    total=$((total + seconds))
  done
  echo "budget: ${total} s of steps (limit 480)"
  if [ -d "$bundle" ]; then echo "bundle: $(bundle_mib) MiB at $bundle (limit ${max_bundle_mib})"; else echo "bundle: none yet (launch/gpu-check.sh --bundle)"; fi
  echo "libraries here:"
  libraries_line | sed 's/^/  /'
  echo "report skeleton (gpu-report.md):"
  echo "  # GPU check: <GPU>, driver <version>, <date>"
  echo "  ## environment: GPU, memory, driver, CUDA libraries found"
  for step in "${steps[@]}"; do echo "  ## ${step%%|*}: passed | FAILED (first failure) | skipped (why), seconds"; done
  [ "$total" -le 480 ] || { echo "gpu-check: the steps' budget is over 8 minutes" >&2; exit 1; }
  exit 0
fi

[ -d "$bundle/bin" ] || { echo "gpu-check: no gpu-bundle/ here: make it with 'launch/gpu-check.sh --bundle' and carry it" >&2; exit 1; }
out="${OUT:-$root/gpu-report}"
mkdir -p "$out/logs"
results="$out/logs/results.tsv"
: >"$results"

# Libraries first: nothing else can run without them.
library_path="$bundle/lib"
while read -r name dir; do
  [ "$dir" = "not-found" ] || library_path="$library_path:$dir"
done < <(libraries_line)
export LD_LIBRARY_PATH="$library_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
missing="$(ldd "$bundle/bin/shardlm" "$bundle/bin/shardlm_unit_tests" 2>/dev/null | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')"
if [ -n "$missing" ]; then
  echo "gpu-check: the binaries cannot start: missing ${missing}(looked under python3's site-packages nvidia/cu13/lib, nvidia/*/lib, torch/lib, and $cuda_home)" >&2
  exit 1
fi

built_in="$(cat "$bundle/built-in" 2>/dev/null || echo "$root")"
if [ "$built_in" != "$root" ] && [ ! -e "$built_in" ]; then
  mkdir -p "$(dirname "$built_in")" && ln -s "$root" "$built_in"  # a throwaway machine: the path the tests expect
fi

# Runs one step under its budget, records passed / FAILED with the first failure line, never stops.
run_step() {
  local name="$1" seconds="${SHARDLM_GPU_STEP_SECONDS:-$2}"; shift 2
  local log="$out/logs/$name.log" start status first
  start=$(date +%s)
  timeout --kill-after=10 "$seconds" "$@" >"$log" 2>&1
  status=$?
  first=""
  [ "$status" -eq 0 ] || first="$(grep -m1 -E 'Failure|FAILED|ERROR|[Ee]rror' "$log" | cut -c1-200)"
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    first="timed out after ${seconds} s${first:+; first: $first}"
  fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$([ "$status" -eq 0 ] && echo passed || echo FAILED)" "$(($(date +%s) - start))" \
    "$first" >>"$results"
}
skip_step() { printf '%s\tskipped\t0\t%s\n' "$1" "$2" >>"$results"; }
budget() { local step; for step in "${steps[@]}"; do [ "${step%%|*}" = "$1" ] && { IFS='|' read -r _ s _ <<<"$step"; echo "$s"; }; done; }

gpu="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1)"
echo "== gpu-check on: $gpu"

run_step cuda_tests "$(budget cuda_tests)" "$bundle/bin/shardlm_unit_tests" --gtest_filter='Cuda*'
golden_filter='*OnTheGpu*'
[ -e "$root/models/SmolLM2-135M-Instruct.Q4_1.gguf" ] || golden_filter='*OnTheGpu*:-SmolLm2*'
run_step golden_gpu "$(budget golden_gpu)" "$bundle/bin/shardlm_golden_tests" --gtest_filter="$golden_filter"
sanitizer="$(command -v compute-sanitizer || ls "$cuda_home/bin/compute-sanitizer" 2>/dev/null || true)"
if [ -n "$sanitizer" ]; then
  run_step memcheck "$(budget memcheck)" "$sanitizer" --tool memcheck --error-exitcode 1 \
    "$bundle/bin/shardlm_unit_tests" --gtest_filter='CudaOpsTest.*'
  run_step racecheck "$(budget racecheck)" "$sanitizer" --tool racecheck --error-exitcode 1 \
    "$bundle/bin/shardlm_unit_tests" --gtest_filter='*TensorCore*'
else
  skip_step memcheck "no compute-sanitizer on this machine"
  skip_step racecheck "no compute-sanitizer on this machine"
fi

# The GPU's greedy text against the CPU's: where they first part, not a byte-for-byte verdict (a
# near-tie between two tokens may round the other way on a correct GPU).
compare_generate() {
  local model="$root/tests/data/stories260K/stories260K.bin" cpu gpu
  local args=(generate --model "$model" --prompt "Once upon a time" --max-new-tokens 200 --temperature 0)
  cpu="$("$bundle/bin/shardlm" "${args[@]}" 2>/dev/null)" || { echo "ERROR: the CPU run failed"; return 1; }
  gpu="$("$bundle/bin/shardlm" "${args[@]}" --device cuda)" || { echo "ERROR: the GPU run failed"; return 1; }
  python3 - "$cpu" "$gpu" <<'EOF'
import sys
cpu, gpu = sys.argv[1].split(), sys.argv[2].split()
same = next((i for i, (a, b) in enumerate(zip(cpu, gpu)) if a != b), min(len(cpu), len(gpu)))
if cpu == gpu:
    print(f"same text as the CPU ({len(cpu)} words)")
else:
    print(f"texts part at word {same} of {len(cpu)}: CPU {cpu[same:same + 3]} GPU {gpu[same:same + 3]}")
    print(f"(the first {same} words agree; a difference after a near-tie is not an error by itself)")
EOF
}
export -f compare_generate
export bundle root
run_step generate "$(budget generate)" bash -c compare_generate
run_step gpu_bench "$(budget gpu_bench)" "$bundle/bin/shardlm_gpu_bench" "$root/configs/models/llama-2-7b.yaml" 512 128

# The report: markdown for people, JSON for tools.
python3 - "$out" "$gpu" "$LD_LIBRARY_PATH" <<'EOF'
import json, os, sys, datetime
out, gpu, library_path = sys.argv[1:4]
steps = []
with open(os.path.join(out, "logs", "results.tsv")) as f:
    for line in f:
        name, status, seconds, first = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
        log = os.path.join(out, "logs", name + ".log")
        tail = open(log, errors="replace").read().splitlines()[-25:] if os.path.exists(log) else []
        steps.append({"name": name, "status": status, "seconds": int(seconds or 0), "first_failure": first, "log_tail": tail})
report = {"gpu": gpu, "date": datetime.datetime.now().isoformat(timespec="seconds"), "library_path": library_path,
          "steps": steps, "passed": all(s["status"] != "FAILED" for s in steps)}
with open(os.path.join(out, "gpu-report.json"), "w") as f:
    json.dump(report, f, indent=2)
with open(os.path.join(out, "gpu-report.md"), "w") as f:
    f.write(f"# GPU check: {gpu}, {report['date']}\n\nlibraries: {library_path}\n\n")
    f.write("| step | result | seconds | first failure |\n|---|---|---|---|\n")
    for s in steps:
        f.write(f"| {s['name']} | {s['status']} | {s['seconds']} | {s['first_failure']} |\n")
    for s in steps:
        f.write(f"\n## {s['name']}: {s['status']}\n\n```\n" + "\n".join(s["log_tail"]) + "\n```\n")
print(open(os.path.join(out, "gpu-report.md")).read().split("\n## ")[0])
sys.exit(0 if report["passed"] else 1)
EOF
