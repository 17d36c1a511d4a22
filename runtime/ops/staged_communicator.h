// A communicator for a device's memory over a host communicator: each operation copies the device
// buffers to the host, runs the host collective (MPI), and copies the result back. Slower than NCCL,
// but it runs where NCCL cannot: two ranks sharing one GPU (NCCL refuses a device twice), the way
// tensor parallelism is tested on a machine with a single GPU.
#pragma once

#include <vector>

#include "parallel/comm/communicator.h"
#include "runtime/ops/device_ops.h"

namespace shardlm {

class StagedCommunicator final : public Communicator {
 public:
  // `host` and `ops` must outlive the communicator.
  StagedCommunicator(Communicator& host, DeviceOps& ops) : host_(host), ops_(ops) {}

  int rank() const override { return host_.rank(); }
  int size() const override { return host_.size(); }
  std::string name() const override { return host_.name() + " (staged through the host)"; }
  void all_reduce(Tensor& tensor) override;
  void all_reduce(float* data, size_t count) override;
  void all_gather(const Tensor& input, Tensor& output) override;
  void broadcast(void* data, size_t bytes, int root) override;
  void send(const void* data, size_t bytes, int peer) override;
  void recv(void* data, size_t bytes, int peer) override;
  void barrier() override { host_.barrier(); }

 private:
  // A host buffer of at least `bytes`, reused across operations.
  void* staging(std::vector<unsigned char>& buffer, size_t bytes);

  Communicator& host_;
  DeviceOps& ops_;
  std::vector<unsigned char> in_, out_;
};

}  // namespace shardlm
