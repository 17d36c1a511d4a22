// Host memory that counts what it hands out: a stand-in device for tests of what the runtime puts in
// a device's memory (the decoder's activations, uploaded weights).
#pragma once

#include <memory>
#include <string>

#include "runtime/backend/backend.h"

namespace shardlm::test {

class CountingMemory final : public Backend {
 public:
  Device device() const override { return Device::cpu; }
  std::string name() const override { return "counting memory"; }
  std::shared_ptr<Storage> alloc(size_t bytes) override {
    ++allocations;
    allocated_bytes += bytes;
    return cpu_backend().alloc(bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override { cpu_backend().copy(dst, src, bytes); }
  void zero(void* data, size_t bytes) override { cpu_backend().zero(data, bytes); }
  MemoryStats memory() const override { return cpu_backend().memory(); }
  int allocations = 0;
  size_t allocated_bytes = 0;
};

}  // namespace shardlm::test
