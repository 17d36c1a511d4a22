// The CUDA backend. The entry points exist in every build; in a build without CUDA, or on a machine
// without a GPU, they report why instead of failing to link or crashing.
#pragma once

#include <memory>
#include <string>

#include "runtime/backend/backend.h"

namespace shardlm {

struct CudaStatus {
  bool built = false;     // this binary was compiled with the CUDA backend
  int device_count = 0;   // GPUs visible at run time
  std::string message;    // why CUDA cannot be used, or which devices it found
};

CudaStatus cuda_status();
// A backend on GPU `device`; throws with cuda_status().message when none can be used.
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace shardlm
