// RMSNorm, LayerNorm (one block per row) and RoPE (one thread per rotated pair).
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops.h"

namespace shardlm::cuda {
namespace {

__global__ void rmsnorm_kernel(const float* x, const float* weight, float* y, int64_t dim, float eps) {
  __shared__ float scratch[kThreads / 32];
  const float* row = x + blockIdx.x * dim;
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) squares += row[i] * row[i];
  const float inverse = rsqrtf(block_sum(squares, scratch) / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) y[blockIdx.x * dim + i] = row[i] * inverse * weight[i];
}

__global__ void layernorm_kernel(const float* x, const float* weight, const float* bias, float* y, int64_t dim,
                                 float eps) {
  __shared__ float scratch[kThreads / 32];
  const float* row = x + blockIdx.x * dim;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) sum += row[i];
  const float mean = block_sum(sum, scratch) / static_cast<float>(dim);
  float squares = 0.0f;  // two passes: the variance of the centred values loses no precision
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) squares += (row[i] - mean) * (row[i] - mean);
  const float inverse = rsqrtf(block_sum(squares, scratch) / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    y[blockIdx.x * dim + i] = (row[i] - mean) * inverse * weight[i] + (bias != nullptr ? bias[i] : 0.0f);
}

__global__ void rope_kernel(float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
                            const double* frequencies, float magnitude, bool halves) {
  const int64_t pairs = head_dim / 2, total = tokens * heads * pairs;
  for (int64_t index = first_index(); index < total; index += grid_stride()) {
    const int64_t i = index % pairs, head = index / pairs, t = head / heads;
    // The angle in double, as the reference: positions reach 10^5 and f32 would lose the phase.
    const double angle = positions[t] * frequencies[i];
    double sine, cosine;
    sincos(angle, &sine, &cosine);
    sine *= magnitude;
    cosine *= magnitude;
    float* row = x + head * head_dim;
    const int64_t a = halves ? i : 2 * i, b = halves ? i + pairs : 2 * i + 1;
    const double x0 = row[a], x1 = row[b];
    row[a] = static_cast<float>(x0 * cosine - x1 * sine);
    row[b] = static_cast<float>(x0 * sine + x1 * cosine);
  }
}

}  // namespace

cudaError_t rmsnorm(const float* x, const float* weight, float* y, int64_t rows, int64_t dim, float eps,
                    cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  rmsnorm_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(x, weight, y, dim, eps);
  return cudaGetLastError();
}

cudaError_t layernorm(const float* x, const float* weight, const float* bias, float* y, int64_t rows, int64_t dim,
                      float eps, cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  layernorm_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(x, weight, bias, y, dim, eps);
  return cudaGetLastError();
}

cudaError_t rope(float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
                 const double* frequencies, float magnitude, bool halves, cudaStream_t stream) {
  const int64_t total = tokens * heads * (head_dim / 2);
  if (total <= 0) return cudaSuccess;
  rope_kernel<<<blocks_for(total), kThreads, 0, stream>>>(x, positions, tokens, heads, head_dim, frequencies,
                                                         magnitude, halves);
  return cudaGetLastError();
}

}  // namespace shardlm::cuda
