// Compiled by the host compiler against cudart and NCCL (nvcc cannot compile fmt in C++20 mode);
// nothing here is a kernel.
#include "parallel/comm/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <string>
#include <string_view>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

// What rank 0 broadcasts: the id, or the reason it has none, so that the other ranks fail with it
// instead of waiting for an id that will never come.
struct IdMessage {
  int ok = 0;
  char error[256] = {};
  ncclUniqueId id = {};
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, int device, cudaStream_t compute_stream);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }

  void all_reduce(Tensor& tensor) override;
  void all_reduce(float* data, size_t count) override;
  void all_gather(const Tensor& input, Tensor& output) override;
  void broadcast(void* data, size_t bytes, int root) override;
  void send(const void* data, size_t bytes, int peer) override;
  void recv(void* data, size_t bytes, int peer) override;
  void barrier() override;

 private:
  void check(cudaError_t status, const char* call, int line) const;
  void check(ncclResult_t result, const char* call, int line) const;
  // The calling thread may have switched devices since the last operation. Then the communicator's
  // stream is made to wait for the work queued on the compute stream so far.
  void use_device() const {
    check(cudaSetDevice(device_), "cudaSetDevice", __LINE__);
    check(cudaEventRecord(compute_done_, compute_stream_), "cudaEventRecord", __LINE__);
    check(cudaStreamWaitEvent(stream_, compute_done_, 0), "cudaStreamWaitEvent", __LINE__);
  }
  void wait() const { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", __LINE__); }
  void check_device_pointer(const void* data, const char* operation) const;
  void check_peer(int peer, const char* operation) const;
  void release() noexcept;

  int rank_;
  int size_;
  int device_;
  cudaStream_t stream_ = nullptr;
  cudaStream_t compute_stream_ = nullptr;  // null: the default stream
  cudaEvent_t compute_done_ = nullptr;      // recorded on compute_stream_ before each operation
  ncclComm_t comm_ = nullptr;
  float* barrier_scratch_ = nullptr;  // one float on the device, summed by barrier()
};

#define SHARDLM_NCCL_CHECK(call) check((call), #call, __LINE__)

// "ncclAllReduce(data, ...)" -> "ncclAllReduce": messages name the call, not its arguments.
std::string_view function_name(const char* call) { return std::string_view(call, std::strcspn(call, "(")); }

void NcclCommunicator::check(cudaError_t status, const char* call, int line) const {
  if (status == cudaSuccess) [[likely]]
    return;
  throw_error(__FILE__, line,
              fmt::format("{} failed on rank {} of {} (GPU {}): {}", function_name(call), rank_, size_, device_,
                          cudaGetErrorString(status)));
}

void NcclCommunicator::check(ncclResult_t result, const char* call, int line) const {
  if (result == ncclSuccess) [[likely]]
    return;
  // ncclGetLastError holds the detail (which peer, which transport); the result string is generic.
  const char* detail = ncclGetLastError(comm_);
  throw_error(__FILE__, line,
              fmt::format("{} failed on rank {} of {} (GPU {}): {}{}{}", function_name(call), rank_, size_, device_,
                          ncclGetErrorString(result), detail && *detail ? ": " : "", detail ? detail : ""));
}

NcclCommunicator::NcclCommunicator(Communicator& bootstrap, int device, cudaStream_t compute_stream)
    : rank_(bootstrap.rank()), size_(bootstrap.size()), device_(device), compute_stream_(compute_stream) {
  IdMessage message;
  if (rank_ == 0) {
    const cudaError_t status = cudaSetDevice(device_);
    const ncclResult_t result = status == cudaSuccess ? ncclGetUniqueId(&message.id) : ncclSuccess;
    message.ok = status == cudaSuccess && result == ncclSuccess;
    if (!message.ok) {
      const std::string reason = status != cudaSuccess ? fmt::format("GPU {}: {}", device_, cudaGetErrorString(status))
                                                       : fmt::format("ncclGetUniqueId: {}", ncclGetErrorString(result));
      std::strncpy(message.error, reason.c_str(), sizeof(message.error) - 1);
    }
  }
  bootstrap.broadcast(&message, sizeof(message), 0);
  SHARDLM_CHECK(message.ok, "NCCL communicator on rank {} of {}: rank 0 could not create the NCCL id ({})", rank_,
                size_, message.error);

  try {
    SHARDLM_NCCL_CHECK(cudaSetDevice(device_));
    SHARDLM_NCCL_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    SHARDLM_NCCL_CHECK(cudaEventCreateWithFlags(&compute_done_, cudaEventDisableTiming));
    SHARDLM_NCCL_CHECK(cudaMalloc(reinterpret_cast<void**>(&barrier_scratch_), sizeof(float)));
    SHARDLM_NCCL_CHECK(ncclCommInitRank(&comm_, size_, message.id, rank_));
  } catch (...) {
    release();  // no destructor runs for a constructor that throws
    throw;
  }
}

NcclCommunicator::~NcclCommunicator() { release(); }

void NcclCommunicator::release() noexcept {
  // Nothing to report from here: the caller can do nothing about a failed release.
  cudaSetDevice(device_);
  if (comm_ != nullptr) ncclCommDestroy(comm_);
  if (barrier_scratch_ != nullptr) cudaFree(barrier_scratch_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  if (compute_done_ != nullptr) cudaEventDestroy(compute_done_);
  comm_ = nullptr;
  compute_done_ = nullptr;
  barrier_scratch_ = nullptr;
  stream_ = nullptr;
}

void NcclCommunicator::check_device_pointer(const void* data, const char* operation) const {
  cudaPointerAttributes attributes{};
  const cudaError_t status = cudaPointerGetAttributes(&attributes, data);
  SHARDLM_CHECK(
      status == cudaSuccess && (attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged),
      "nccl {} on rank {}: {} is not GPU memory; the NCCL communicator moves device memory only (use MPI "
      "for host tensors)",
      operation, rank_, data);
}

void NcclCommunicator::check_peer(int peer, const char* operation) const {
  SHARDLM_CHECK(peer >= 0 && peer < size_ && peer != rank_, "nccl {} on rank {}: peer {} is not another rank of {}",
                operation, rank_, peer, size_);
}

void NcclCommunicator::all_reduce(Tensor& tensor) {
  SHARDLM_CHECK(tensor.defined() && tensor.device() == Device::cuda,
                "nccl all_reduce on rank {}: {} is in host memory; the NCCL communicator moves GPU tensors only", rank_,
                tensor.defined() ? tensor.describe() : "an undefined tensor");
  SHARDLM_CHECK(tensor.dtype() == DType::f32, "nccl all_reduce sums f32 tensors; got {}", tensor.describe());
  all_reduce(tensor.data_as<float>(), static_cast<size_t>(tensor.numel()));
}

void NcclCommunicator::all_reduce(float* data, size_t count) {
  if (count == 0) return;
  use_device();
  check_device_pointer(data, "all_reduce");
  SHARDLM_NCCL_CHECK(ncclAllReduce(data, data, count, ncclFloat32, ncclSum, comm_, stream_));
  wait();
}

void NcclCommunicator::all_gather(const Tensor& input, Tensor& output) {
  SHARDLM_CHECK(input.device() == Device::cuda && output.device() == Device::cuda,
                "nccl all_gather on rank {}: input {} and output {} must both be GPU tensors", rank_, input.describe(),
                output.describe());
  SHARDLM_CHECK(input.dtype() == output.dtype() && output.numel() == input.numel() * size_,
                "nccl all_gather: output {} must hold {} ranks x input {}", output.describe(), size_, input.describe());
  if (input.bytes() == 0) return;
  use_device();
  // Bytes, not elements: the gather only moves data, so any dtype goes as ncclUint8.
  SHARDLM_NCCL_CHECK(ncclAllGather(input.data(), output.data(), input.bytes(), ncclUint8, comm_, stream_));
  wait();
}

void NcclCommunicator::broadcast(void* data, size_t bytes, int root) {
  SHARDLM_CHECK(root >= 0 && root < size_, "nccl broadcast: root {} is outside a group of {}", root, size_);
  if (bytes == 0) return;
  use_device();
  check_device_pointer(data, "broadcast");
  SHARDLM_NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_));
  wait();
}

void NcclCommunicator::send(const void* data, size_t bytes, int peer) {
  check_peer(peer, "send");
  if (bytes == 0) return;
  use_device();
  check_device_pointer(data, "send");
  SHARDLM_NCCL_CHECK(ncclSend(data, bytes, ncclUint8, peer, comm_, stream_));
  wait();
}

void NcclCommunicator::recv(void* data, size_t bytes, int peer) {
  check_peer(peer, "recv");
  if (bytes == 0) return;
  use_device();
  check_device_pointer(data, "recv");
  SHARDLM_NCCL_CHECK(ncclRecv(data, bytes, ncclUint8, peer, comm_, stream_));
  wait();
}

void NcclCommunicator::barrier() {
  // NCCL has no barrier; an all-reduce of one float cannot finish on any rank before all have joined.
  use_device();
  SHARDLM_NCCL_CHECK(ncclAllReduce(barrier_scratch_, barrier_scratch_, 1, ncclFloat32, ncclSum, comm_, stream_));
  wait();
}

}  // namespace

bool nccl_built() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device, void* compute_stream) {
  return std::make_unique<NcclCommunicator>(bootstrap, device, static_cast<cudaStream_t>(compute_stream));
}

}  // namespace shardlm
