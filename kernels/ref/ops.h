// The plainest possible version of every op: scalar loops in the order the maths is written.
// This is the oracle every optimised kernel is compared with; never optimise it.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/core/dtype.h"

namespace shardlm {

// How RoPE pairs the elements of a head it rotates together.
enum class RopeLayout : uint8_t {
  adjacent,  // (2i, 2i+1): Meta's original checkpoints and llama2.c
  halves,    // (i, i + head_dim/2): Hugging Face checkpoints
};

// Causal attention of `tokens` queries, the first at position start_pos, over keys 0..start_pos+t.
struct AttentionShape {
  int64_t tokens;      // queries in this call
  int64_t start_pos;   // position of the first query
  int64_t heads;       // query heads
  int64_t kv_heads;    // key/value heads; heads % kv_heads == 0 (MHA, GQA, MQA)
  int64_t head_dim;
  int64_t kv_stride;   // elements between consecutive positions in k and v (>= kv_heads * head_dim)
  float scale;         // usually 1/sqrt(head_dim)
  // ALiBi (BLOOM, MPT): when set, head h adds -alibi_slopes[h] * (query position - key position) to
  // its scores before the softmax. nullptr for models that encode positions otherwise.
  const float* alibi_slopes = nullptr;
  // Paged K/V (vLLM-style): when block_table is set, k and v are pools laid out
  // [num_blocks][kv_heads][block_size][head_dim] and position p of this sequence lives in block
  // block_table[p / block_size] at slot p % block_size; kv_stride is not used then.
  const int32_t* block_table = nullptr;
  int64_t block_size = 0;
  // Element type of k and v: a bf16 KV cache halves the bytes every decode step streams. Queries and
  // outputs stay f32, and so does all arithmetic.
  DType kv_dtype = DType::f32;
};

namespace ref {

// y[m, n] = sum_k x[m, k] * w[n, k]; w is [n, k] (PyTorch's Linear layout) in dtype w_dtype. For
// i8 weights, row_scales[n] scales weight row n (the value is the byte times it); otherwise unused.
void matmul(const float* x, const void* w, DType w_dtype, float* y, int64_t m, int64_t n, int64_t k,
            const float* row_scales = nullptr);
// ref::matmul with x first rounded as the CPU rounds it for w_dtype (cpu::matmul_quantizes_inputs):
// for bf16 weights each input to bf16 (nearest even); for q8_0 / q4_1, as llama.cpp's q8 dot products
// do, each block of 32 inputs of a row becomes round(x / s) with s = (largest |x| of the block) / 127
// (in f32, rounding half to even), and the product uses codes x s (k a multiple of 32).
void matmul_quantized_inputs(const float* x, const void* w, DType w_dtype, float* y, int64_t m, int64_t n, int64_t k);
// As matmul_quantized_inputs for q8_0 / q4_1 weights, each input kept to 16 bits rather than 8: with
// t = x x (127 / largest) as there (in f32), hi = round(t) and lo = round((t - hi) x 256) clamped to
// [-127, 127] (both half to even), the product uses (hi + lo / 256) x s, within s / 512 of x. The CPU's
// contract for products of a few rows (cpu::kMaxWideInputRows).
void matmul_wide_quantized_inputs(const float* x, const void* w, DType w_dtype, float* y, int64_t m, int64_t n,
                                  int64_t k);
// Symmetric per-row int8 (weight-only, per output channel, as load_in_8bit's absmax): scales[r] =
// max |x[r]| / 127 and q[r, i] = round(x[r, i] / scales[r]) in [-127, 127]; a row of zeros gets scale 0.
void quantize_rows_int8(const float* x, int64_t rows, int64_t k, int8_t* q, float* scales);
// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, for each of `rows` rows of length dim.
void rmsnorm(const float* x, const float* weight, float* y, int64_t rows, int64_t dim, float eps);
// Rotates each head of x [tokens, heads, head_dim]: pair i of the token at position p turns by the angle
// p * frequencies[i] (head_dim / 2 of them, radians per position: theta^(-2i/head_dim) with any RoPE
// scaling folded in) and is multiplied by magnitude, as transformers multiplies cos and sin by YaRN's
// attention factor (1 for every other RoPE).
void rope(float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
          const double* frequencies, float magnitude, RopeLayout layout);
// Plain RoPE's frequencies theta^(-2i/head_dim) / position_scale, i < head_dim / 2 (position_scale is
// linear scaling's factor; 1 for none).
std::vector<double> rope_frequencies(int64_t head_dim, double theta, double position_scale = 1.0);
// y[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias, per row; bias may be nullptr.
void layernorm(const float* x, const float* weight, const float* bias, float* y, int64_t rows, int64_t dim, float eps);
// y[r, i] += bias[i] for each of `rows` rows of length n.
void add_bias(float* y, const float* bias, int64_t rows, int64_t n);
// x[i] = gelu(x[i]), exact: x * (1 + erf(x / sqrt(2))) / 2.
void gelu(float* x, int64_t n);
// x[i] = gelu(x[i]), tanh approximation: x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) / 2.
void gelu_tanh(float* x, int64_t n);
// In-place softmax of n values.
void softmax(float* x, int64_t n);
// out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)).
void silu_gate(const float* gate, const float* up, float* out, int64_t n);
// out [tokens, heads, head_dim] = softmax(q k^T * scale, causal) v, with q [tokens, heads, head_dim] and
// k, v [positions, kv_stride] holding kv_heads heads of head_dim each (or paged pools, when
// shape.block_table is set), in shape.kv_dtype; query head h reads kv head h / (heads / kv_heads).
void attention(const float* q, const void* k, const void* v, float* out, const AttentionShape& shape);

}  // namespace ref
}  // namespace shardlm
