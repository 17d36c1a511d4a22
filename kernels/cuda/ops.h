// CUDA kernels. Plain C++ interface returning cudaError_t, so that callers (compiled by the host
// compiler) do the error reporting and .cu files stay free of host-only headers.
#pragma once

#include <cstdint>
#include <cuda_runtime.h>

namespace shardlm::cuda {

// out[i] = silu(gate[i]) * up[i] on device pointers; same contract as ref::silu_gate.
cudaError_t silu_gate(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);

}  // namespace shardlm::cuda
