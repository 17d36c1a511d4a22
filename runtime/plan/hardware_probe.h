// Measures this machine with the runtime's own CPU kernels: the FLOP/s of a matrix product (what bounds
// prefill). The decode side (bytes streamed per second) is measured through a whole synthetic decoder
// by the CLI's probe (runtime/cli/plan_probe.cpp), which sees every op a decode step runs.
#pragma once

#include "runtime/core/dtype.h"

namespace shardlm::plan {

// FLOP/s of cpu::matmul on a [256 x 1024] x [1024 x 1024]^T product with weights in `dtype`.
double probe_matmul_flops(int threads, DType dtype);

}  // namespace shardlm::plan
