// Built when CUDA was not found at configure time: same API, a clear answer.
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/core/check.h"

namespace shardlm {

CudaStatus cuda_status() {
  return {false, 0, "this shardlm was built without CUDA (configure found no nvcc; see SHARDLM_CUDA)"};
}

std::unique_ptr<Backend> make_cuda_backend(int device) { SHARDLM_FAIL("{}", cuda_status().message); }

}  // namespace shardlm
