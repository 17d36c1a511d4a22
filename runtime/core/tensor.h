// A small n-dimensional tensor: shape, dtype, and a view into storage that lives on one device.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/dtype.h"

namespace shardlm {

enum class Device : uint8_t { cpu, cuda };

// Bytes owned by someone: a backend allocation or a memory-mapped file. The owner keeps them alive
// for as long as any tensor views them.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::cpu;
  std::shared_ptr<void> owner;
  bool file_backed = false;  // a view of a mapped file: the OS pages it in and out, it costs no heap
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::vector<int64_t> shape, DType dtype, std::shared_ptr<Storage> storage, size_t byte_offset = 0);

  // A tensor over bytes owned elsewhere (a mapped file, say); `owner` keeps them alive.
  static Tensor view(std::vector<int64_t> shape, DType dtype, const void* data, std::shared_ptr<void> owner,
                     Device device = Device::cpu);

  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(i < 0 ? shape_.size() + i : i); }
  int rank() const { return static_cast<int>(shape_.size()); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::cpu; }
  int64_t numel() const;
  size_t bytes() const { return dtype_bytes(dtype_, numel()); }
  bool defined() const { return storage_ != nullptr; }
  // True when the tensor views a mapped file (no heap), or fills its whole storage.
  bool owns_no_extra_memory() const { return !storage_ || storage_->file_backed || bytes() == storage_->bytes; }
  // True when the tensor views bytes owned elsewhere (a mapped file) rather than a backend allocation.
  bool file_backed() const { return storage_ && storage_->file_backed; }

  void* data() const { return static_cast<uint8_t*>(storage_->data) + offset_; }
  template <typename T>
  T* data_as() const { return static_cast<T*>(data()); }

  // Row i of the outermost dimension, as a tensor of one rank less sharing the storage.
  Tensor row(int64_t i) const;
  // Rows [begin, begin + count) of the outermost dimension, sharing the storage (no copy).
  Tensor rows(int64_t begin, int64_t count) const;
  std::string describe() const;  // "bf16[32, 64]"

 private:
  std::vector<int64_t> shape_;
  DType dtype_ = DType::f32;
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
};

}  // namespace shardlm
