// Measures this machine with the runtime's own CPU kernels: the rate a matrix-vector product streams
// weights from memory (what bounds decoding) and the FLOP/s of a matrix product (what bounds prefill).
#pragma once

#include "runtime/core/dtype.h"

namespace shardlm::plan {

// Bytes/s of weights read by cpu::matmul with one input row over a matrix much larger than the
// caches, with `threads` threads; the median of several runs.
double probe_weight_bandwidth(int threads);
// FLOP/s of cpu::matmul on a [256 x 1024] x [1024 x 1024]^T product with weights in `dtype`.
double probe_matmul_flops(int threads, DType dtype);

}  // namespace shardlm::plan
