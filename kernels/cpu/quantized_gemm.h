// Private to kernels/cpu: prefill's product for weights in GGUF's block formats (q8_0, q4_1, q4_0) where the
// CPU has an integer dot product (AVX-512 VNNI). matmul.cpp calls it for products of many input rows.
#pragma once

#include <cstdint>

#include "kernels/cpu/simd.h"
#include "runtime/core/dtype.h"
#include "runtime/core/thread_pool.h"

namespace shardlm::cpu {

// Input rows from which the panel product beats the dot-product tiles (which decode each weight
// block once per 4 input rows, where the panels decode it once for all of them).
inline constexpr int64_t kQuantizedGemmMinRows = 16;

// The index of a block format in simd::Kernels' quantized tables: q8_0 0, q4_1 1, q4_0 2.
int quantized_format(DType w_dtype);

// True when `kernels` has the micro-kernel and w_dtype is a block format.
bool quantized_gemm_supported(const simd::Kernels& kernels, DType w_dtype);

// y [m, n] = x w^T with x's rows quantized per block of 32, to 8 bits (ref::matmul_quantized_inputs
// is the contract) or, `wide`, to 16 (ref::matmul_wide_quantized_inputs), and w [n, k] in q8_0, q4_1
// or q4_0 (k a multiple of 32). `codes` and `scales` are the rows as simd.h's quantize_inputs (or
// quantize_inputs_wide) lays them out, `padded` codes a row (a plane).
void quantized_gemm(ThreadPool& pool, const simd::Kernels& kernels, const int8_t* codes, const float* scales,
                    int64_t padded, bool wide, const void* w, DType w_dtype, float* y, int64_t m, int64_t n,
                    int64_t k);

}  // namespace shardlm::cpu
