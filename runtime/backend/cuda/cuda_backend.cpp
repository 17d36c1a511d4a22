// GPU memory through the CUDA runtime (cudart), compiled by the host compiler. Every call is checked
// and names the device.
#include <atomic>
#include <cuda_runtime.h>

#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/core/check.h"

#define SHARDLM_CUDA_CHECK(call, device)                                                                    \
  do {                                                                                                      \
    const cudaError_t status_ = (call);                                                                     \
    SHARDLM_CHECK(status_ == cudaSuccess, "CUDA error on device {}: {} ({})", device, cudaGetErrorString(status_), \
                  #call);                                                                                   \
  } while (0)

namespace shardlm {
namespace {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) { SHARDLM_CUDA_CHECK(cudaSetDevice(device), device); }
  Device device() const override { return Device::cuda; }
  std::string name() const override { return "cuda:" + std::to_string(device_); }

  std::shared_ptr<Storage> alloc(size_t bytes) override {
    void* data = nullptr;
    if (bytes > 0) SHARDLM_CUDA_CHECK(cudaMalloc(&data, bytes), device_);
    counters_->allocated(bytes);
    auto storage = std::make_shared<Storage>();
    storage->data = data;
    storage->bytes = bytes;
    storage->device = Device::cuda;
    // The deleter holds the counters and the device number, not the backend, which a tensor may
    // outlive.
    storage->owner = std::shared_ptr<void>(data, [counters = counters_, device = device_, bytes](void* p) {
      if (p != nullptr) {
        cudaSetDevice(device);
        cudaFree(p);
      }
      counters->released(bytes);
    });
    return storage;
  }

  // Both run on the legacy default stream, which does not order itself with the ops' non-blocking
  // stream, and may return before the device is done (cudaMemset always may; cudaMemcpy from pageable
  // memory once the bytes are staged): each waits for the device, so that a kernel the ops launch
  // next never reads a weight still in flight or K/V that a late zeroing then wipes. They run while
  // loading and allocating, not per token.
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    SHARDLM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault), device_);
    SHARDLM_CUDA_CHECK(cudaDeviceSynchronize(), device_);
  }

  void zero(void* data, size_t bytes) override {
    if (bytes == 0) return;
    SHARDLM_CUDA_CHECK(cudaMemset(data, 0, bytes), device_);
    SHARDLM_CUDA_CHECK(cudaDeviceSynchronize(), device_);
  }

  MemoryStats memory() const override {
    size_t free_bytes = 0, total_bytes = 0;
    SHARDLM_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes), device_);
    return {counters_->current(), counters_->peak(), total_bytes};
  }

 private:
  int device_;
  std::shared_ptr<MemoryCounters> counters_ = std::make_shared<MemoryCounters>();
};

}  // namespace

CudaStatus cuda_status() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    return {true, 0, std::string("built with CUDA, but no usable GPU: ") +
                         (status != cudaSuccess ? cudaGetErrorString(status) : "no device found")};
  }
  return {true, count, std::to_string(count) + " CUDA device(s)"};
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  const CudaStatus status = cuda_status();
  SHARDLM_CHECK(status.device_count > 0, "{}", status.message);
  SHARDLM_CHECK(device >= 0 && device < status.device_count, "CUDA device {} does not exist ({} visible)", device,
                status.device_count);
  return std::make_unique<CudaBackend>(device);
}

}  // namespace shardlm
