// Vectorised, multi-threaded CPU kernels. Same contracts as kernels/ref/ops.h; each is compared
// with its reference in tests/kernels/. SIMD width is chosen at run time (AVX-512, AVX2, or plain
// C++), so one binary runs on any x86-64 machine.
#pragma once

#include <cstdint>
#include <string_view>

#include "kernels/ref/ops.h"
#include "runtime/core/thread_pool.h"

namespace shardlm::cpu {

void matmul(ThreadPool& pool, const float* x, const void* w, DType w_dtype, float* y, int64_t m, int64_t n, int64_t k,
            const float* row_scales = nullptr);
// True when matmul with w_dtype weights rounds its inputs at the active SIMD level (block formats with
// an integer dot product: int8 per block; bf16 with a bf16 dot product: bf16): then
// ref::matmul_quantized_inputs is its contract, not ref::matmul.
bool matmul_quantizes_inputs(DType w_dtype);
// Where matmul_quantizes_inputs holds for q8_0 / q4_1 weights, the inputs keep 16 bits (two int8
// planes, ref::matmul_wide_quantized_inputs is the contract): f32's answers at the weights' speed
// (8-bit inputs changed greedy choices of SmolLM2 at 2.6% of the positions, and its answer to "What
// is the capital of France?"). With SHARDLM_PREFILL_INPUTS=int8, products of more than
// kMaxWideInputRows rows (prefill) take 8-bit inputs instead (ref::matmul_quantized_inputs), half
// the integer products; decode steps keep 16 bits either way. Any other value than int8 or int16 is
// an error naming it.
inline constexpr int64_t kMaxWideInputRows = 8;
bool prefill_takes_8_bit_inputs();
// Switches the choice above for this process, so that tests can run both; not while kernels run.
void set_prefill_inputs_for_testing(bool eight_bits);
void rmsnorm(ThreadPool& pool, const float* x, const float* weight, float* y, int64_t rows, int64_t dim, float eps);
void rope(ThreadPool& pool, float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
          const double* frequencies, float magnitude, RopeLayout layout);
void layernorm(ThreadPool& pool, const float* x, const float* weight, const float* bias, float* y, int64_t rows,
               int64_t dim, float eps);
void add_bias(ThreadPool& pool, float* y, const float* bias, int64_t rows, int64_t n);
void gelu(ThreadPool& pool, float* x, int64_t n);
void gelu_tanh(ThreadPool& pool, float* x, int64_t n);
void softmax(float* x, int64_t n);
void silu_gate(ThreadPool& pool, const float* gate, const float* up, float* out, int64_t n);
// Tiled over keys with a running max and sum (the flash-attention recurrence): memory stays
// O(head_dim) per query however long the context.
// K and V are in shape.kv_dtype (f32 or bf16).
void attention(ThreadPool& pool, const float* q, const void* k, const void* v, float* out,
               const AttentionShape& shape);
// The threads attention() runs a call of `shape` on, out of `pool_threads`: the capacity planner
// asks this to know how a decode step's attention is spread.
int64_t attention_threads(const AttentionShape& shape, int64_t pool_threads);

// Which instruction set the dispatcher picked: "avx512", "avx2" or "generic".
std::string_view simd_level();

}  // namespace shardlm::cpu
