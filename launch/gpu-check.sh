#!/usr/bin/env bash
# The GPU checks, in one command on a machine with an NVIDIA GPU and its driver (a lent GPU machine:
# CUDA's runtime and PyTorch's cuBLAS there, none of our Debian packages, no network).
#
#   launch/gpu-check.sh --bundle   here, after ./launch/build.sh: writes gpu-bundle/ (ignored by git,
#                                  about 35 MB): the binaries, the shared libraries they load that a
#                                  bare CUDA machine lacks, and where the test data was built to live
#   launch/gpu-check.sh            there, in the checkout with gpu-bundle/ carried along
#
# There it lists the GPU, runs the GPU tests (every CUDA op against kernels/ref at awkward sizes,
# quantized weights, split-K decode attention, the engine with a paged pool and several sequences,
# tp 2 staged through the host on one GPU, the planner's memory against the GPU's counters; every
# family fixture, stories260K and SmolLM2 on the GPU against transformers), then `shardlm generate
# --device cuda` on stories260K against the CPU's text, then the speed benchmark on a Llama-2-7B shape
# (bench/gpu_bench.cpp: decode vs the bandwidth roofline, prefill and attention TFLOP/s vs bf16 peak,
# peak memory vs the planner), and exits non-zero if any check fails. SmolLM2's GGUF (98 MB) is over
# what one call carries with the bundle: carry models/ in a second call to include it.
# Not yet run on a GPU: the first lent machine validates it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="$root/gpu-bundle"

if [ "${1:-}" = "--bundle" ]; then
  build="${SHARDLM_BUILD_DIR:-$root/build}"
  binaries=("$build/shardlm" "$build/tests/shardlm_unit_tests" "$build/tests/shardlm_golden_tests"
            "$build/bench/shardlm_gpu_bench")
  for binary in "${binaries[@]}"; do
    [ -x "$binary" ] || { echo "gpu-check: $binary is missing: run ./launch/build.sh first" >&2; exit 1; }
  done
  mkdir -p "$bundle/bin" "$bundle/lib"
  cp "${binaries[@]}" "$bundle/bin/"
  # Every library the binaries load except the C runtime and the driver, which the machine has.
  ldd "${binaries[@]}" | awk '/=> \// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+|libcuda|libnccl)\.so' |
    while read -r library; do cp -L "$library" "$bundle/lib/"; done
  # The tests find their data under the checkout they were built in.
  echo "$root" > "$bundle/built-in"
  du -sh "$bundle"
  exit 0
fi

[ -d "$bundle" ] || { echo "gpu-check: no gpu-bundle/ here: make it with 'launch/gpu-check.sh --bundle' and carry it" >&2; exit 1; }
nvidia-smi -L
built_in="$(cat "$bundle/built-in")"
if [ "$built_in" != "$root" ] && [ ! -e "$built_in" ]; then
  mkdir -p "$(dirname "$built_in")" && ln -s "$root" "$built_in"  # a throwaway machine: the path the tests expect
fi
# cuBLAS and NCCL (218 MB: over what a call carries, so not bundled): the toolkit's, or the
# nvidia-cublas / nvidia-nccl packages beside PyTorch.
package_lib() {
  python3 -c "import os, nvidia.$1 as p; print(os.path.join(list(p.__path__)[0], 'lib'))" 2>/dev/null || true
}
export LD_LIBRARY_PATH="$bundle/lib:$(package_lib cublas):$(package_lib nccl):/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! ldd "$bundle/bin/shardlm" | grep -q 'libnccl.so.2 => /'; then
  echo "gpu-check: no libnccl.so.2 on this machine (the nvidia-nccl package or the toolkit's): the binaries cannot start" >&2
  exit 1
fi
status=0
echo "== GPU tests"
"$bundle/bin/shardlm_unit_tests" --gtest_filter='Cuda*' || status=1
golden_filter='*OnTheGpu*'
if [ ! -e "$root/models/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
  echo "SmolLM2 on the GPU: left out (models/SmolLM2-135M-Instruct.Q4_1.gguf not here: carry models/ too)"
  golden_filter='*OnTheGpu*:-SmolLm2*'
fi
"$bundle/bin/shardlm_golden_tests" --gtest_filter="$golden_filter" || status=1
echo "== generate --device cuda against the CPU (stories260K, 200 greedy tokens)"
model="$root/tests/data/stories260K/stories260K.bin"
args=(generate --model "$model" --prompt "Once upon a time" --max-new-tokens 200 --temperature 0)
cpu_text="$("$bundle/bin/shardlm" "${args[@]}" 2>/dev/null)"
gpu_text="$("$bundle/bin/shardlm" "${args[@]}" --device cuda)" || status=1
if [ "$cpu_text" = "$gpu_text" ]; then echo "same text as the CPU"; else echo "DIFFERENT text from the CPU:" >&2; echo "$gpu_text" >&2; status=1; fi
echo "== speed and memory on a Llama-2-7B shape (random bf16 weights made on the GPU)"
"$bundle/bin/shardlm_gpu_bench" "$root/configs/models/llama-2-7b.yaml" 512 128 || status=1
exit $status
