// Products with weights cuBLAS cannot take as they are stored (f16 with f32 inputs, int8 with row
// scales, GGUF's q8_0 and q4_1 blocks). Decode-sized batches read each weight once, decoded in
// registers (weight_groups.h) and applied to every input row; larger batches dequantize a slice of
// rows to bf16 for cuBLAS's tensor cores (weight_dequantize below).
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/weight_groups.h"

namespace shardlm::cuda {
namespace {

constexpr int kWarpsPerBlock = kThreads / 32;

// One warp per output column (weight row): lane j takes groups j, j + 32, ... of the row, decodes each
// once and multiplies it into all m <= kMaxMatvecRows input rows; a warp sum finishes each output.
template <int kDtype>
__global__ void matvec_kernel(const float* x, const uint8_t* w, const float* row_scales, float* y, int64_t m,
                              int64_t n, int64_t k, bool vector_loads) {
  const int lane = threadIdx.x % 32;
  const int64_t column = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (column >= n) return;  // whole warps leave together: the shuffles below see all 32 lanes
  const uint8_t* row = w + column * row_bytes(kDtype, k);
  float sums[kMaxMatvecRows] = {};
  const int64_t groups = k / kGroup;
  for (int64_t g = lane; g < groups; g += 32) {
    float values[kGroup];
    decode_group<kDtype>(row, g, values);
#pragma unroll
    for (int r = 0; r < kMaxMatvecRows; ++r) {
      if (r >= m) break;
      const float4* inputs = reinterpret_cast<const float4*>(x + r * k + g * kGroup);
      float sum = 0.0f;
      if (vector_loads) {  // every row of x is 16-byte aligned
#pragma unroll
        for (int i = 0; i < kGroup / 4; ++i) {
          const float4 in = inputs[i];
          sum += values[4 * i] * in.x + values[4 * i + 1] * in.y + values[4 * i + 2] * in.z + values[4 * i + 3] * in.w;
        }
      } else {
        for (int i = 0; i < kGroup; ++i) sum += values[i] * x[r * k + g * kGroup + i];
      }
      sums[r] += sum;
    }
  }
  // A tail shorter than a group (element dtypes only: block dtypes have whole groups).
  for (int64_t i = groups * kGroup + lane; i < k; i += 32) {
    const float value = row_value(row, kDtype, i);
#pragma unroll
    for (int r = 0; r < kMaxMatvecRows; ++r)
      if (r < m) sums[r] += value * x[r * k + i];
  }
  const float scale = kDtype == kI8 ? row_scales[column] : 1.0f;
#pragma unroll
  for (int r = 0; r < kMaxMatvecRows; ++r) {  // constant indices keep sums in registers
    if (r >= m) break;
    const float total = warp_sum(sums[r]);
    if (lane == 0) y[r * n + column] = total * scale;
  }
}

__global__ void dequantize_kernel(const uint8_t* w, int dtype, const float* row_scales, int64_t first_row,
                                  int64_t rows, int64_t k, uint16_t* out) {
  for (int64_t i = first_index(); i < rows * k; i += grid_stride()) {
    const int64_t r = first_row + i / k;
    float value = row_value(w + r * row_bytes(dtype, k), dtype, i % k);
    if (dtype == kI8) value *= row_scales[r];
    out[i] = float_to_bf16(value);
  }
}

bool block_dtype(int dtype) { return dtype == kQ8_0 || dtype == kQ4_1; }

}  // namespace

cudaError_t weight_matvec(const float* x, const void* w, int dtype, const float* row_scales, float* y, int64_t m,
                          int64_t n, int64_t k, cudaStream_t stream) {
  if (m <= 0 || n <= 0) return cudaSuccess;
  if (m > kMaxMatvecRows || (block_dtype(dtype) && k % kGroup != 0) || (dtype == kI8 && row_scales == nullptr))
    return cudaErrorInvalidValue;
  const auto blocks = static_cast<unsigned>((n + kWarpsPerBlock - 1) / kWarpsPerBlock);
  const auto* bytes = static_cast<const uint8_t*>(w);
  const bool vector_loads = k % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  auto launch = [&](auto kernel) { kernel<<<blocks, kThreads, 0, stream>>>(x, bytes, row_scales, y, m, n, k, vector_loads); };
  switch (dtype) {
    case kF32: launch(matvec_kernel<kF32>); break;
    case kF16: launch(matvec_kernel<kF16>); break;
    case kBf16: launch(matvec_kernel<kBf16>); break;
    case kI8: launch(matvec_kernel<kI8>); break;
    case kQ8_0: launch(matvec_kernel<kQ8_0>); break;
    case kQ4_1: launch(matvec_kernel<kQ4_1>); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t weight_dequantize(const void* w, int dtype, const float* row_scales, int64_t first_row, int64_t rows,
                              int64_t k, uint16_t* out, cudaStream_t stream) {
  if (rows <= 0 || k <= 0) return cudaSuccess;
  if (dtype < kF32 || dtype > kQ4_1 || (block_dtype(dtype) && k % kGroup != 0) || (dtype == kI8 && row_scales == nullptr))
    return cudaErrorInvalidValue;
  dequantize_kernel<<<blocks_for(rows * k), kThreads, 0, stream>>>(static_cast<const uint8_t*>(w), dtype, row_scales,
                                                                    first_row, rows, k, out);
  return cudaGetLastError();
}

}  // namespace shardlm::cuda
