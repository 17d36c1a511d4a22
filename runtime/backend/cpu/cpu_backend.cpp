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
    counters_->allocated(rounded);
    auto storage = std::make_shared<Storage>();
    storage->data = data;
    storage->bytes = bytes;
    storage->device = Device::cpu;
    // The deleter holds the counters, not the backend: a tensor may outlive it (in a static
    // destroyed later at exit).
    storage->owner = std::shared_ptr<void>(data, [counters = counters_, rounded](void* p) {
      std::free(p);
      counters->released(rounded);
    });
    return storage;
  }

  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes > 0) std::memcpy(dst, src, bytes);
  }

  void zero(void* data, size_t bytes) override {
    if (bytes > 0) std::memset(data, 0, bytes);
  }

  MemoryStats memory() const override { return {counters_->current(), counters_->peak(), 0}; }

 private:
  std::shared_ptr<MemoryCounters> counters_ = std::make_shared<MemoryCounters>();
};

}  // namespace

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

}  // namespace shardlm
