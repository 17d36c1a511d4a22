#include "runtime/ops/staged_communicator.h"

#include "runtime/core/check.h"

namespace shardlm {

void* StagedCommunicator::staging(std::vector<unsigned char>& buffer, size_t bytes) {
  if (buffer.size() < bytes) buffer.resize(bytes);
  return buffer.data();
}

void StagedCommunicator::all_reduce(Tensor& tensor) {
  SHARDLM_CHECK(tensor.dtype() == DType::f32, "all_reduce sums f32 tensors; got {}", tensor.describe());
  all_reduce(tensor.data_as<float>(), static_cast<size_t>(tensor.numel()));
}

void StagedCommunicator::all_reduce(float* data, size_t count) {
  if (count == 0) return;
  auto* host = static_cast<float*>(staging(in_, count * sizeof(float)));
  ops_.to_host(host, data, count * sizeof(float));
  host_.all_reduce(host, count);
  ops_.from_host(data, host, count * sizeof(float));
}

void StagedCommunicator::all_gather(const Tensor& input, Tensor& output) {
  SHARDLM_CHECK(input.dtype() == output.dtype() && output.numel() == input.numel() * size(),
                "all_gather: output {} must hold {} ranks x input {}", output.describe(), size(), input.describe());
  // Host tensors over the staging buffers, so the host communicator sees what it always does.
  void* in = staging(in_, input.bytes());
  void* out = staging(out_, output.bytes());
  ops_.to_host(in, input.data(), input.bytes());
  const Tensor host_in = Tensor::view(input.shape(), input.dtype(), in, nullptr);
  Tensor host_out = Tensor::view(output.shape(), output.dtype(), out, nullptr);
  host_.all_gather(host_in, host_out);
  ops_.from_host(output.data(), out, output.bytes());
}

void StagedCommunicator::broadcast(void* data, size_t bytes, int root) {
  if (bytes == 0) return;
  void* host = staging(in_, bytes);
  if (rank() == root) ops_.to_host(host, data, bytes);
  host_.broadcast(host, bytes, root);
  if (rank() != root) ops_.from_host(data, host, bytes);
}

void StagedCommunicator::send(const void* data, size_t bytes, int peer) {
  if (bytes == 0) return;
  void* host = staging(in_, bytes);
  ops_.to_host(host, data, bytes);
  host_.send(host, bytes, peer);
}

void StagedCommunicator::recv(void* data, size_t bytes, int peer) {
  if (bytes == 0) return;
  void* host = staging(in_, bytes);
  host_.recv(host, bytes, peer);
  ops_.from_host(data, host, bytes);
}

}  // namespace shardlm
