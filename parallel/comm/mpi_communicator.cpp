#include "parallel/comm/mpi_communicator.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <thread>

#include "parallel/comm/mpi_check.h"
#include "runtime/core/check.h"

namespace shardlm {
namespace {

// MPI counts are ints. Larger transfers go in pieces of at most this many elements; both sides
// split the same way, so the pieces match up.
constexpr size_t kMaxCount = INT_MAX;

// Messages between one pair of ranks on one communicator arrive in the order sent, so a single
// tag suffices for send/recv; the communicator is private (a dup or a split), so no one else's
// messages share it.
constexpr int kTransferTag = 17;

template <typename Action>
void in_pieces(size_t count, Action action) {
  for (size_t done = 0; done < count;) {
    const size_t piece = std::min(count - done, kMaxCount);
    action(done, static_cast<int>(piece));
    done += piece;
  }
}

void check_host(const Tensor& tensor, const char* operation) {
  SHARDLM_CHECK(tensor.defined(), "mpi {}: the tensor is undefined", operation);
  SHARDLM_CHECK(tensor.device() == Device::cpu,
                "mpi {}: {} is on the GPU; the MPI communicator moves host tensors only (use NCCL for GPU tensors)",
                operation, tensor.describe());
}

// all_gather moves whole elements; a carrier type of the element's width keeps the count in range
// for twice (16-bit) or four times (f32) as many bytes as MPI_BYTE would.
MPI_Datatype element_carrier(DType dtype) {
  switch (dtype_size(dtype)) {
    case 4:
      return MPI_UINT32_T;
    case 2:
      return MPI_UINT16_T;
    default:
      return MPI_BYTE;
  }
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : comm_(comm) {
  SHARDLM_CHECK(comm != MPI_COMM_NULL, "MpiCommunicator needs a communicator, got MPI_COMM_NULL");
  SHARDLM_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  SHARDLM_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  SHARDLM_MPI_CHECK(MPI_Comm_size(comm_, &size_));
}

MpiCommunicator::~MpiCommunicator() {
  // Freeing after MPI_Finalize is erroneous; at that point the library has released it anyway.
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) MPI_Comm_free(&comm_);
}

void MpiCommunicator::all_reduce(Tensor& tensor) {
  check_host(tensor, "all_reduce");
  SHARDLM_CHECK(tensor.dtype() == DType::f32, "mpi all_reduce sums f32 tensors; got {}", tensor.describe());
  all_reduce(tensor.data_as<float>(), static_cast<size_t>(tensor.numel()));
}

void MpiCommunicator::all_reduce(float* data, size_t count) {
  SHARDLM_CHECK(data != nullptr || count == 0, "mpi all_reduce: null data for {} floats", count);
  in_pieces(count, [&](size_t offset, int piece) {
    SHARDLM_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + offset, piece, MPI_FLOAT, MPI_SUM, comm_));
  });
}

void MpiCommunicator::all_gather(const Tensor& input, Tensor& output) {
  check_host(input, "all_gather");
  check_host(output, "all_gather");
  SHARDLM_CHECK(input.dtype() == output.dtype(), "mpi all_gather: input {} and output {} differ in dtype",
                input.describe(), output.describe());
  SHARDLM_CHECK(output.numel() == input.numel() * size_,
                "mpi all_gather: output {} must hold {} ranks x {} elements of input {}", output.describe(), size_,
                input.numel(), input.describe());
  const size_t count = static_cast<size_t>(input.numel());
  SHARDLM_CHECK(count <= kMaxCount, "mpi all_gather: {} elements per rank exceeds MPI's limit of {}", count, kMaxCount);
  // An input that already sits in this rank's slot of the output is gathered in place, which MPI
  // allows only through MPI_IN_PLACE.
  auto* own_slot = static_cast<uint8_t*>(output.data()) + static_cast<size_t>(rank_) * input.bytes();
  const void* send = input.data() == own_slot ? MPI_IN_PLACE : input.data();
  const MPI_Datatype carrier = element_carrier(input.dtype());
  SHARDLM_MPI_CHECK(
      MPI_Allgather(send, static_cast<int>(count), carrier, output.data(), static_cast<int>(count), carrier, comm_));
}

void MpiCommunicator::broadcast(void* data, size_t bytes, int root) {
  SHARDLM_CHECK(root >= 0 && root < size_, "mpi broadcast: root {} is outside a group of {}", root, size_);
  SHARDLM_CHECK(data != nullptr || bytes == 0, "mpi broadcast: null data for {} bytes", bytes);
  in_pieces(bytes, [&](size_t offset, int piece) {
    SHARDLM_MPI_CHECK(MPI_Bcast(static_cast<uint8_t*>(data) + offset, piece, MPI_BYTE, root, comm_));
  });
}

void MpiCommunicator::broadcast_after_wait(void* data, size_t bytes, int root) {
  SHARDLM_CHECK(root >= 0 && root < size_, "mpi broadcast: root {} is outside a group of {}", root, size_);
  SHARDLM_CHECK(bytes <= static_cast<size_t>(INT_MAX), "mpi broadcast: {} bytes is too large to wait for", bytes);
  MPI_Request request;
  SHARDLM_MPI_CHECK(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm_, &request));
  wait_politely(request);
}

void MpiCommunicator::wait_politely(MPI_Request& request) {
  // A blocking MPI call busy-polls: a rank waiting for rank 0's next step (an idle server's followers)
  // would hold a core at 100% for as long as it waits. Poll hot for a moment (a step's broadcast
  // usually arrives within it), then sleep between polls: idle ranks cost next to nothing, and a late
  // message waits at most one short sleep more.
  const auto hot_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
  for (int done = 0;;) {
    SHARDLM_MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    if (std::chrono::steady_clock::now() > hot_until) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void MpiCommunicator::check_peer(int peer, const char* what) const {
  SHARDLM_CHECK(peer >= 0 && peer < size_, "mpi {}: peer {} is outside a group of {}", what, peer, size_);
  // A blocking send to oneself waits for a receive that can never be posted.
  SHARDLM_CHECK(peer != rank_, "mpi {}: rank {} cannot {} itself", what, rank_, what);
}

void MpiCommunicator::send(const void* data, size_t bytes, int peer) {
  check_peer(peer, "send");
  in_pieces(bytes, [&](size_t offset, int piece) {
    SHARDLM_MPI_CHECK(MPI_Send(static_cast<const uint8_t*>(data) + offset, piece, MPI_BYTE, peer, kTransferTag, comm_));
  });
}

void MpiCommunicator::recv(void* data, size_t bytes, int peer) {
  check_peer(peer, "recv");
  in_pieces(bytes, [&](size_t offset, int piece) {
    MPI_Status status;
    SHARDLM_MPI_CHECK(
        MPI_Recv(static_cast<uint8_t*>(data) + offset, piece, MPI_BYTE, peer, kTransferTag, comm_, &status));
    int received = 0;
    SHARDLM_MPI_CHECK(MPI_Get_count(&status, MPI_BYTE, &received));
    // A shorter message would leave the rest of the buffer stale; say so rather than compute on it.
    SHARDLM_CHECK(received == piece, "mpi recv: expected {} bytes from rank {}, got {}", piece, peer, received);
  });
}

void MpiCommunicator::barrier() { SHARDLM_MPI_CHECK(MPI_Barrier(comm_)); }

std::unique_ptr<MpiCommunicator> mpi_world_communicator() {
  MPI_Comm comm = MPI_COMM_NULL;
  SHARDLM_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm));
  return std::make_unique<MpiCommunicator>(comm);
}

}  // namespace shardlm
