// The communicator of a world of one, for a process started without mpirun: collectives are
// identities and there is no peer to send to. It lets `shardlm generate` run without starting MPI.
#pragma once

#include "parallel/comm/communicator.h"

namespace shardlm {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "local"; }

  void all_reduce(Tensor& tensor) override;
  void all_reduce(float* data, size_t count) override {}
  void all_gather(const Tensor& input, Tensor& output) override;
  void broadcast(void* data, size_t bytes, int root) override;
  void send(const void* data, size_t bytes, int peer) override;
  void recv(void* data, size_t bytes, int peer) override;
  void barrier() override {}
};

}  // namespace shardlm
