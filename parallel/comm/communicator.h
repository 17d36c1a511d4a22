// Collectives and point-to-point transfers between ranks, behind one interface: MPI for tensors in
// host memory, NCCL for tensors on GPUs. A communicator spans a group of ranks (all of them, or one
// tensor-parallel group); `rank` and `size` are within that group.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "runtime/core/tensor.h"

namespace shardlm {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;  // "mpi", "nccl"

  // In place: every rank ends with the element-wise sum over the group (f32 tensors).
  virtual void all_reduce(Tensor& tensor) = 0;
  virtual void all_reduce(float* data, size_t count) = 0;
  // output [size * n] = the inputs [n] of ranks 0, 1, ... in order.
  virtual void all_gather(const Tensor& input, Tensor& output) = 0;
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  // The same, for receivers that may wait long (a server's followers between steps): where waiting
  // would busy-poll (MPI), they sleep between polls instead of holding a core.
  virtual void broadcast_after_wait(void* data, size_t bytes, int root) { broadcast(data, bytes, root); }
  virtual void send(const void* data, size_t bytes, int peer) = 0;
  virtual void recv(void* data, size_t bytes, int peer) = 0;
  virtual void barrier() = 0;
};

}  // namespace shardlm
