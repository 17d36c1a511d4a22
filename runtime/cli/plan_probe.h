// `shardlm plan --probe-hardware`: measures this machine as the runtime uses it and describes it as a
// cpu hardware file: memory, the weight-streaming bandwidth (by weight-matrix size) and matmul FLOP/s
// of the CPU kernels at each thread count, a decoder layer's fixed cost, this binary's resident baseline, and (when
// mpirun is at hand) what a rank adds under MPI and how long an all-reduce takes.
#pragma once

#include "runtime/plan/hardware.h"

namespace shardlm::cli {

plan::Hardware probe_hardware();
// The helper the probe starts under `mpirun -np 2`: rank 0 prints one line the probe reads.
int probe_ranks();

}  // namespace shardlm::cli
