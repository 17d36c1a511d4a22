// Row movements: embedding lookups, gathers, and writes into the paged KV pools.
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/weight_groups.h"

namespace shardlm::cuda {
namespace {

__global__ void embed_rows_kernel(const uint8_t* table, int dtype, int64_t width, const int32_t* ids, int64_t count,
                                  float* out, bool accumulate) {
  for (int64_t i = first_index(); i < count * width; i += grid_stride()) {
    const float value = row_value(table + ids[i / width] * row_bytes(dtype, width), dtype, i % width);
    out[i] = accumulate ? out[i] + value : value;
  }
}

__global__ void gather_rows_kernel(const float* x, const int64_t* rows, int64_t count, int64_t width, float* out) {
  for (int64_t i = first_index(); i < count * width; i += grid_stride()) out[i] = x[rows[i / width] * width + i % width];
}

__global__ void write_kv_kernel(void* k_pool, void* v_pool, int dtype, const float* k, const float* v, int64_t tokens,
                                int64_t start_pos, const int32_t* block_table, int64_t block_size, int64_t kv_heads,
                                int64_t head_dim) {
  const int64_t width = kv_heads * head_dim;
  for (int64_t i = first_index(); i < tokens * width; i += grid_stride()) {
    const int64_t t = i / width, head = i % width / head_dim, d = i % head_dim, position = start_pos + t;
    const int64_t slot =
        ((block_table[position / block_size] * kv_heads + head) * block_size + position % block_size) * head_dim + d;
    if (dtype == 2) {
      static_cast<uint16_t*>(k_pool)[slot] = float_to_bf16(k[i]);
      static_cast<uint16_t*>(v_pool)[slot] = float_to_bf16(v[i]);
    } else {
      static_cast<float*>(k_pool)[slot] = k[i];
      static_cast<float*>(v_pool)[slot] = v[i];
    }
  }
}

}  // namespace

cudaError_t embed_rows(const void* table, int dtype, int64_t width, const int32_t* ids, int64_t count, float* out,
                       bool accumulate, cudaStream_t stream) {
  if (count * width <= 0) return cudaSuccess;
  if (dtype == kI8 || dtype < kF32 || dtype > kQ4_1 || ((dtype == kQ8_0 || dtype == kQ4_1) && width % kGroup != 0))
    return cudaErrorInvalidValue;  // i8 rows need scales the tables do not have
  embed_rows_kernel<<<blocks_for(count * width), kThreads, 0, stream>>>(static_cast<const uint8_t*>(table), dtype,
                                                                        width, ids, count, out, accumulate);
  return cudaGetLastError();
}

cudaError_t gather_rows(const float* x, const int64_t* rows, int64_t count, int64_t width, float* out,
                        cudaStream_t stream) {
  if (count * width <= 0) return cudaSuccess;
  gather_rows_kernel<<<blocks_for(count * width), kThreads, 0, stream>>>(x, rows, count, width, out);
  return cudaGetLastError();
}

cudaError_t write_kv(void* k_pool, void* v_pool, int dtype, const float* k, const float* v, int64_t tokens,
                     int64_t start_pos, const int32_t* block_table, int64_t block_size, int64_t kv_heads,
                     int64_t head_dim, cudaStream_t stream) {
  const int64_t total = tokens * kv_heads * head_dim;
  if (total <= 0) return cudaSuccess;
  write_kv_kernel<<<blocks_for(total), kThreads, 0, stream>>>(k_pool, v_pool, dtype, k, v, tokens, start_pos,
                                                              block_table, block_size, kv_heads, head_dim);
  return cudaGetLastError();
}

}  // namespace shardlm::cuda
