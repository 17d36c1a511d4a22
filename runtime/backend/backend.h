// Where tensors live: one Backend per device kind. The CPU backend is always present; the CUDA
// backend exists when the build found CUDA and a device is present at run time.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/tensor.h"

namespace shardlm {

struct MemoryStats {
  size_t current_bytes = 0;  // held by this backend's allocations now
  size_t peak_bytes = 0;     // the most ever held at once
  size_t total_bytes = 0;    // device capacity (0 when unknown)
};

// Bytes a backend holds now and at most, shared by the backend and the deleters of its allocations
// (which may run after the backend is gone).
class MemoryCounters {
 public:
  void allocated(size_t bytes) {
    const size_t now = current_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    size_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  void released(size_t bytes) { current_.fetch_sub(bytes, std::memory_order_relaxed); }
  size_t current() const { return current_.load(std::memory_order_relaxed); }
  size_t peak() const { return peak_.load(std::memory_order_relaxed); }

 private:
  std::atomic<size_t> current_{0};
  std::atomic<size_t> peak_{0};
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string name() const = 0;
  // Storage of `bytes` bytes, freed when the last tensor using it goes.
  virtual std::shared_ptr<Storage> alloc(size_t bytes) = 0;
  // Copies between this backend's memory and host memory, in either direction.
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  // Sets bytes of this backend's memory to zero, on the device (no host staging).
  virtual void zero(void* data, size_t bytes) = 0;
  virtual MemoryStats memory() const = 0;

  Tensor empty(std::vector<int64_t> shape, DType dtype);
  Tensor zeros(std::vector<int64_t> shape, DType dtype);
};

// The process-wide CPU backend.
Backend& cpu_backend();

}  // namespace shardlm
