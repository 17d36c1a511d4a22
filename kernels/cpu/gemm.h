// Private to kernels/cpu: prefill's blocked GEMM for f32 and bf16 weights (matmul.cpp calls it when a
// call has enough input rows and the SIMD level has the micro-kernel).
#pragma once

#include <cstdint>

#include "kernels/cpu/simd.h"
#include "runtime/core/dtype.h"
#include "runtime/core/thread_pool.h"

namespace shardlm::cpu {

// Input rows from which the blocked GEMM beats the dot-product tiles: below this, packing the weights
// costs more than it saves (measured with SmolLM2's 576 x 1536, one thread, f32 / bf16: GEMM 58 / 62
// GFLOP/s at 16 rows against the tiles' 86 / 88, even at 32, 125 / 127 against 95 / 93 at 64, 183 /
// 182 against 103 / 96 at 512).
inline constexpr int64_t kGemmMinRows = 32;

// True when `kernels` has the micro-kernel and w_dtype is f32 or bf16.
bool gemm_supported(const simd::Kernels& kernels, DType w_dtype);

// y [m, n] = x w^T for x [m, k] f32 rows and w [n, k] in f32 or bf16. Threads split the output columns
// in panels of simd::kGemmPanel; each packs its own panels, a depth block at a time, bf16 widened to
// f32 as it is packed (exact), so both run the f32 micro-kernel.
void gemm(ThreadPool& pool, const simd::Kernels& kernels, const float* x, const void* w, DType w_dtype, float* y,
          int64_t m, int64_t n, int64_t k);

}  // namespace shardlm::cpu
