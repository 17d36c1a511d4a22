// Tensors filled on the device: random bf16 weights for benchmarks of published shapes (a 7B model's
// 13 GB made in place in milliseconds, nothing read from disk or sent over PCIe), and constants.
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops.h"

namespace shardlm::cuda {
namespace {

// SplitMix64's finalizer: a well-mixed 64-bit value from (seed, index), no state between threads.
__device__ uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__global__ void fill_random_bf16_kernel(uint16_t* out, int64_t n, uint64_t seed, float scale) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    const uint64_t bits = mix(seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(i));
    const float uniform = static_cast<float>(bits >> 40) * 0x1p-24f;  // [0, 1)
    out[i] = float_to_bf16((2.0f * uniform - 1.0f) * scale);
  }
}

__global__ void fill_kernel(float* out, int64_t n, float value) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = value;
}

}  // namespace

cudaError_t fill_random_bf16(uint16_t* out, int64_t n, uint64_t seed, float scale, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  fill_random_bf16_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, n, seed, scale);
  return cudaGetLastError();
}

cudaError_t fill(float* out, int64_t n, float value, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  fill_kernel<<<blocks_for(n), kThreads, 0, stream>>>(out, n, value);
  return cudaGetLastError();
}

}  // namespace shardlm::cuda
