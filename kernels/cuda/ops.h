// CUDA kernels. Plain C++ interface returning cudaError_t, so that callers (compiled by the host
// compiler) do the error reporting and .cu files stay free of host-only headers. Every pointer is
// device memory, every launch goes on `stream`; contracts are kernels/ref's (ops.h there), with
// dtypes as int codes in DType's order: 0 f32, 1 f16, 2 bf16.
#pragma once

#include <cstdint>
#include <cuda_runtime.h>

#include "kernels/cuda/weight_groups.h"

namespace shardlm::cuda {

// out[i] = silu(gate[i]) * up[i] on device pointers; same contract as ref::silu_gate.
cudaError_t silu_gate(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);
// x = gelu(x) exact (erf) / tanh approximation; x += delta; x clamped to [-limit, limit].
cudaError_t gelu(float* x, int64_t n, cudaStream_t stream);
cudaError_t gelu_tanh(float* x, int64_t n, cudaStream_t stream);
cudaError_t add(float* x, const float* delta, int64_t n, cudaStream_t stream);
cudaError_t clamp(float* x, int64_t n, float limit, cudaStream_t stream);
// y[r, i] += bias[i].
cudaError_t add_bias(float* y, const float* bias, int64_t rows, int64_t n, cudaStream_t stream);
// out[i] = x[i] rounded to bf16 (nearest even), as bf16 bits: the inputs of bf16 products.
cudaError_t round_to_bf16(const float* x, uint16_t* out, int64_t n, cudaStream_t stream);

// Products with weights w [n, k] as stored (dtype codes of weight_groups.h: f16, i8 with f32 row
// scales, q8_0, q4_1; f32 and bf16 too), y [m, n] = x [m, k] w^T in f32. weight_matvec reads each
// weight once for m <= kMaxMatvecRows (weight_groups.h) input rows (decode), decoding it in registers;
// weight_dequantize writes rows first_row .. + rows of w as bf16 (nearest even, an i8 row times its
// scale) into out [rows, k], for cuBLAS's tensor cores at larger m.
cudaError_t weight_matvec(const float* x, const void* w, int dtype, const float* row_scales, float* y, int64_t m,
                          int64_t n, int64_t k, cudaStream_t stream);
cudaError_t weight_dequantize(const void* w, int dtype, const float* row_scales, int64_t first_row, int64_t rows,
                              int64_t k, uint16_t* out, cudaStream_t stream);

// One block per row; sums in f32 over the row's elements.
cudaError_t rmsnorm(const float* x, const float* weight, float* y, int64_t rows, int64_t dim, float eps,
                    cudaStream_t stream);
cudaError_t layernorm(const float* x, const float* weight, const float* bias, float* y, int64_t rows, int64_t dim,
                      float eps, cudaStream_t stream);
// x [tokens, heads, head_dim] rotated in place as ref::rope; positions and the head_dim / 2 frequencies
// on the device; halves: pairs (i, i + d/2) (Hugging Face), else (2i, 2i + 1).
cudaError_t rope(float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
                 const double* frequencies, float magnitude, bool halves, cudaStream_t stream);

// out [count, width] (=, or += with accumulate) rows ids[i] of table [*, width] of `dtype` (any of
// weight_groups.h's but i8), widened.
cudaError_t embed_rows(const void* table, int dtype, int64_t width, const int32_t* ids, int64_t count, float* out,
                       bool accumulate, cudaStream_t stream);
// out [count, width] = rows[i] of x [*, width].
cudaError_t gather_rows(const float* x, const int64_t* rows, int64_t count, int64_t width, float* out,
                        cudaStream_t stream);
// Writes tokens rows of k and v [tokens, kv_heads * head_dim] at positions start_pos.. into paged
// pools [blocks][kv_heads][block_size][head_dim] of `dtype` (f32, or bf16 rounded to nearest even).
cudaError_t write_kv(void* k_pool, void* v_pool, int dtype, const float* k, const float* v, int64_t tokens,
                     int64_t start_pos, const int32_t* block_table, int64_t block_size, int64_t kv_heads,
                     int64_t head_dim, cudaStream_t stream);

// ref::attention's arguments with device pointers: K/V contiguous ([positions, kv_stride]) or paged
// (block_table set), in f32 or bf16.
struct AttentionArgs {
  int64_t tokens, start_pos, heads, kv_heads, head_dim, kv_stride;
  float scale;
  const float* alibi_slopes;    // [heads] or null
  const int32_t* block_table;   // null for contiguous K/V
  int64_t block_size;
  int kv_dtype;                 // 0 f32, 2 bf16
  // Split-K (attention_merge.h): each row's keys in `splits` ranges (attention_splits), their
  // partial results in `partials`, tokens * heads * splits * partial_floats(head_dim) floats.
  int splits = 1;
  float* partials = nullptr;
};
// Causal attention, the flash-attention recurrence: one block per (query token, head) walks the
// visible keys in tiles with a running maximum and sum, so memory does not grow with the length.
cudaError_t attention(const float* q, const void* k, const void* v, float* out, const AttentionArgs& args,
                      cudaStream_t stream);
// Prefill chunks over a bf16 paged pool with head_dim 64 or 128 (what attention() hands over): the
// same recurrence on tensor cores, 64 query rows a block, Q and the softmax weights rounded to bf16
// for the products (sums in f32).
bool tensor_cores_take(const AttentionArgs& args);
cudaError_t attention_tensor_cores(const float* q, const void* k, const void* v, float* out, const AttentionArgs& args,
                                   cudaStream_t stream);

// out[i] = uniform in [-scale, scale) from (seed, i), rounded to bf16; out[i] = value.
cudaError_t fill_random_bf16(uint16_t* out, int64_t n, uint64_t seed, float scale, cudaStream_t stream);
cudaError_t fill(float* out, int64_t n, float value, cudaStream_t stream);

}  // namespace shardlm::cuda
