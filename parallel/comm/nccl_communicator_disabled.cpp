// The NCCL entry points of a build without NCCL (no CUDA backend, or NCCL not found by CMake).
#include "parallel/comm/nccl_communicator.h"
#include "runtime/core/check.h"

namespace shardlm {

bool nccl_built() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& /*bootstrap*/, int device, void* /*compute_stream*/) {
  SHARDLM_FAIL(
      "GPU communicator for device {}: this binary was built without NCCL (configure with CUDA and NCCL: "
      "nccl.h and libnccl under /usr/local/cuda or set NCCL_ROOT)",
      device);
}

}  // namespace shardlm
