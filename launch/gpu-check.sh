#!/usr/bin/env bash
# The GPU checks, in one command on a machine with an NVIDIA GPU and its driver (a lent GPU machine:
# CUDA's runtime and PyTorch's cuBLAS there, none of our Debian packages, no network).
#
#   launch/gpu-check.sh --bundle   here, after ./launch/build.sh: writes gpu-bundle/ (ignored by git,
#                                  about 35 MB): the binaries, the shared libraries they load that a
#                                  bare CUDA machine lacks, and where the test data was built to live
#   launch/gpu-check.sh            there, in the checkout with gpu-bundle/ carried along
#
# There it lists the GPU, runs the GPU tests (every CUDA op against kernels/ref, the decoder on the
# GPU against the CPU's logits and greedy tokens), then `shardlm generate --device cuda` on stories260K
# against the CPU's text, and exits non-zero if any differs. Not yet run on a GPU: the first lent
# machine validates it (the 7B-shaped speed benchmark of the issue is still to come).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="$root/gpu-bundle"

if [ "${1:-}" = "--bundle" ]; then
  build="${SHARDLM_BUILD_DIR:-$root/build}"
  for binary in "$build/shardlm" "$build/tests/shardlm_unit_tests"; do
    [ -x "$binary" ] || { echo "gpu-check: $binary is missing: run ./launch/build.sh first" >&2; exit 1; }
  done
  mkdir -p "$bundle/bin" "$bundle/lib"
  cp "$build/shardlm" "$build/tests/shardlm_unit_tests" "$bundle/bin/"
  # Every library the binaries load except the C runtime and the driver, which the machine has.
  ldd "$build/shardlm" "$build/tests/shardlm_unit_tests" | awk '/=> \// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+|libcuda)\.so' |
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
# cuBLAS: from the bundle, the toolkit, or the nvidia-cublas package beside PyTorch.
cublas_dir="$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null || true)"
export LD_LIBRARY_PATH="$bundle/lib:${cublas_dir}:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
status=0
echo "== GPU tests"
"$bundle/bin/shardlm_unit_tests" --gtest_filter='Cuda*' || status=1
echo "== generate --device cuda against the CPU (stories260K, 200 greedy tokens)"
model="$root/tests/data/stories260K/stories260K.bin"
args=(generate --model "$model" --prompt "Once upon a time" --max-new-tokens 200 --temperature 0)
cpu_text="$("$bundle/bin/shardlm" "${args[@]}" 2>/dev/null)"
gpu_text="$("$bundle/bin/shardlm" "${args[@]}" --device cuda)" || status=1
if [ "$cpu_text" = "$gpu_text" ]; then echo "same text as the CPU"; else echo "DIFFERENT text from the CPU:" >&2; echo "$gpu_text" >&2; status=1; fi
exit $status
