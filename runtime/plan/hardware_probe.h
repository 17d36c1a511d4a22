// Measures this machine with the runtime's own CPU kernels: the FLOP/s of a matrix product (what bounds
// prefill) and the cost of a decode step's attention per key. The decode side (bytes streamed per second) is measured through a whole synthetic decoder
// by the CLI's probe (runtime/cli/plan_probe.cpp), which sees every op a decode step runs.
#pragma once

#include <cstdint>

#include "runtime/core/dtype.h"
#include "runtime/plan/hardware.h"

namespace shardlm::plan {

// FLOP/s of cpu::matmul on a [256 x 1024] x [1024 x 1024]^T product with weights in `dtype` (any
// weight dtype: int8 rows with their scales, q8_0 and q4_1 through the quantized panel product).
double probe_matmul_flops(int threads, DType dtype);

// Weight bytes per second cpu::matmul multiplies one input row (a decode step's product) by, with
// `threads` threads and weights in `dtype` in rows of `row_inputs`, over `working_set_bytes` of
// weights: within the cache, what the kernel's own instructions allow; far beyond it, what it
// reaches while they stream.
double probe_decode_kernel_rate(int threads, DType dtype, int64_t working_set_bytes,
                                int64_t row_inputs = Hardware::kShortKernelRow);

// Seconds one thread spends per key of context when cpu::attention decodes one token with K/V in
// a paged f32 cache of `block_size`-token blocks at `head_dim`: `per_kv_head` for each kv head (the
// tile's keys and values brought in) and `per_head` for each query head (its scores, softmax and
// weighted sum). The difference of two contexts, so the call's fixed cost is left out.
AttentionKeyCost probe_attention_key_cost(int64_t head_dim, int64_t block_size);

}  // namespace shardlm::plan
