// DeviceOps on one NVIDIA GPU (runtime/ops/cuda/cuda_ops.cpp): kernels/cuda on a stream of its own,
// matrix products through cuBLAS with f32 accumulation. Declared in every build; a build without
// CUDA, or a machine without a GPU, gets a clear error from make_cuda_ops instead.
#pragma once

#include <memory>

#include "runtime/ops/device_ops.h"

namespace shardlm {

// Ops on GPU `device`. Throws, naming the cause (no CUDA in this build, no GPU, no such device).
std::unique_ptr<DeviceOps> make_cuda_ops(int device);

}  // namespace shardlm
