#include "parallel/comm/local_communicator.h"

#include <cstring>

#include "runtime/core/check.h"

namespace shardlm {

void LocalCommunicator::all_reduce(Tensor& tensor) {
  // The sum over one rank is the tensor itself; the dtype check keeps the contract of the others.
  SHARDLM_CHECK(tensor.dtype() == DType::f32, "all_reduce sums f32 tensors; got {}", tensor.describe());
}

void LocalCommunicator::all_gather(const Tensor& input, Tensor& output) {
  SHARDLM_CHECK(input.dtype() == output.dtype() && input.numel() == output.numel(),
                "all_gather over one rank: output {} must match input {}", output.describe(), input.describe());
  if (input.data() == output.data()) return;
  SHARDLM_CHECK(input.device() == Device::cpu && output.device() == Device::cpu,
                "all_gather over one rank copies host tensors only; got {} on the GPU", input.describe());
  std::memcpy(output.data(), input.data(), input.bytes());
}

void LocalCommunicator::broadcast(void* data, size_t bytes, int root) {
  SHARDLM_CHECK(root == 0, "broadcast: root {} is outside a world of 1 (started without mpirun)", root);
}

void LocalCommunicator::send(const void* data, size_t bytes, int peer) {
  SHARDLM_FAIL("send to rank {}: this process is a world of 1 (started without mpirun), so it has no peers", peer);
}

void LocalCommunicator::recv(void* data, size_t bytes, int peer) {
  SHARDLM_FAIL("recv from rank {}: this process is a world of 1 (started without mpirun), so it has no peers", peer);
}

}  // namespace shardlm
