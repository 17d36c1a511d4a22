// Communicator over an MPI communicator, for tensors in host memory. Raw-pointer overloads take host
// pointers too: MPI here is not built CUDA-aware, and device tensors go through NcclCommunicator.
#pragma once

#include <mpi.h>

#include "parallel/comm/communicator.h"

namespace shardlm {

class MpiCommunicator final : public Communicator {
 public:
  // Takes ownership of `comm` (freed on destruction, unless MPI was finalised first) and sets
  // MPI_ERRORS_RETURN on it so failures become shardlm::Error.
  explicit MpiCommunicator(MPI_Comm comm);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }

  void all_reduce(Tensor& tensor) override;
  void all_reduce(float* data, size_t count) override;
  void all_gather(const Tensor& input, Tensor& output) override;
  void broadcast(void* data, size_t bytes, int root) override;
  void broadcast_after_wait(void* data, size_t bytes, int root) override;
  void send(const void* data, size_t bytes, int peer) override;
  void recv(void* data, size_t bytes, int peer) override;
  void barrier() override;

  MPI_Comm handle() const { return comm_; }

 private:
  void check_peer(int peer, const char* what) const;
  static void wait_politely(MPI_Request& request);

  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

// A communicator over all ranks, on a duplicate of MPI_COMM_WORLD (so its messages never match
// anyone else's). MPI must be running.
std::unique_ptr<MpiCommunicator> mpi_world_communicator();

}  // namespace shardlm
