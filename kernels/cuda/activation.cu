// Element-wise activations. Grid-stride loops: any n works with a grid sized for the device.
#include "kernels/cuda/ops.h"

namespace shardlm::cuda {
namespace {

__global__ void silu_gate_kernel(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    out[i] = g / (1.0f + __expf(-g)) * up[i];
  }
}

}  // namespace

cudaError_t silu_gate(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  constexpr int threads = 256;
  const int64_t wanted = (n + threads - 1) / threads;
  const int blocks = static_cast<int>(wanted < 65535 ? wanted : 65535);
  silu_gate_kernel<<<blocks, threads, 0, stream>>>(gate, up, out, n);
  return cudaGetLastError();
}

}  // namespace shardlm::cuda
