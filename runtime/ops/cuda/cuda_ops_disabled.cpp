// make_cuda_ops in a build without CUDA: it says so.
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/core/check.h"
#include "runtime/ops/cuda_ops.h"

namespace shardlm {

std::unique_ptr<DeviceOps> make_cuda_ops(int device) {
  SHARDLM_FAIL("--device cuda (GPU {}): {}", device, cuda_status().message);
}

}  // namespace shardlm
