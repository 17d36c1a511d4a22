// Element-wise kernels. Grid-stride loops: any n works with a grid sized for the device.
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops.h"

namespace shardlm::cuda {
namespace {

__global__ void silu_gate_kernel(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    const float g = gate[i];
    out[i] = g / (1.0f + __expf(-g)) * up[i];
  }
}

__global__ void gelu_kernel(float* x, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678f));
}

__global__ void gelu_tanh_kernel(float* x, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + tanhf(0.79788456f * (v + 0.044715f * v * v * v)));
  }
}

__global__ void add_kernel(float* x, const float* delta, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) x[i] += delta[i];
}

__global__ void clamp_kernel(float* x, int64_t n, float limit) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) x[i] = fminf(fmaxf(x[i], -limit), limit);
}

__global__ void add_bias_kernel(float* y, const float* bias, int64_t rows, int64_t n) {
  for (int64_t i = first_index(); i < rows * n; i += grid_stride()) y[i] += bias[i % n];
}

__global__ void round_to_bf16_kernel(const float* x, uint16_t* out, int64_t n) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = float_to_bf16(x[i]);
}

}  // namespace

cudaError_t silu_gate(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  silu_gate_kernel<<<blocks_for(n), kThreads, 0, stream>>>(gate, up, out, n);
  return cudaGetLastError();
}

cudaError_t gelu(float* x, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  gelu_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, n);
  return cudaGetLastError();
}

cudaError_t gelu_tanh(float* x, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  gelu_tanh_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, n);
  return cudaGetLastError();
}

cudaError_t add(float* x, const float* delta, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  add_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, delta, n);
  return cudaGetLastError();
}

cudaError_t clamp(float* x, int64_t n, float limit, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  clamp_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, n, limit);
  return cudaGetLastError();
}

cudaError_t add_bias(float* y, const float* bias, int64_t rows, int64_t n, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return cudaSuccess;
  add_bias_kernel<<<blocks_for(rows * n), kThreads, 0, stream>>>(y, bias, rows, n);
  return cudaGetLastError();
}

cudaError_t round_to_bf16(const float* x, uint16_t* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  round_to_bf16_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, out, n);
  return cudaGetLastError();
}

}  // namespace shardlm::cuda
