// Host memory, 64-byte aligned so that AVX-512 loads of whole rows never split cache lines.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "runtime/backend/backend.h"
#include "runtime/core/check.h"

namespace shardlm {
namespace {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu; }
  std::string name() const override { return "cpu"; }

  std::shared_ptr<Storage> alloc(size_t bytes) override {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* data = rounded == 0 ? nullptr : std::aligned_alloc(64, rounded);
    SHARDLM_CHECK(rounded == 0 || data != nullptr, "out of host memory allocating {} bytes", bytes);
    note_allocated(rounded);
    auto storage = std::make_shared<Storage>();
    storage->data = data;
    storage->bytes = bytes;
    storage->device = Device::cpu;
    storage->owner = std::shared_ptr<void>(data, [this, rounded](void* p) {
      std::free(p);
      current_.fetch_sub(rounded, std::memory_order_relaxed);
    });
    return storage;
  }

  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes > 0) std::memcpy(dst, src, bytes);
  }

  MemoryStats memory() const override {
    return {current_.load(std::memory_order_relaxed), peak_.load(std::memory_order_relaxed), 0};
  }

 private:
  void note_allocated(size_t bytes) {
    const size_t now = current_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
    size_t peak = peak_.load(std::memory_order_relaxed);
    while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
  }
  std::atomic<size_t> current_{0};
  std::atomic<size_t> peak_{0};
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace shardlm
