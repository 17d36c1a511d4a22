#include "runtime/core/tensor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "runtime/core/check.h"

namespace shardlm {

Tensor::Tensor(std::vector<int64_t> shape, DType dtype, std::shared_ptr<Storage> storage, size_t byte_offset)
    : shape_(std::move(shape)), dtype_(dtype), storage_(std::move(storage)), offset_(byte_offset) {
  for (int64_t extent : shape_) SHARDLM_CHECK(extent >= 0, "negative extent in tensor shape {}", fmt::join(shape_, "x"));
  SHARDLM_CHECK(!is_block_dtype(dtype_) || (!shape_.empty() && shape_.back() % kQuantBlock == 0),
                "a {} tensor's rows hold whole blocks of {} values; shape [{}] does not", dtype_name(dtype_), kQuantBlock,
                fmt::join(shape_, ", "));
  SHARDLM_CHECK(storage_ != nullptr, "tensor without storage");
  SHARDLM_CHECK(offset_ + bytes() <= storage_->bytes, "tensor {} at offset {} overruns its storage of {} bytes",
                describe(), offset_, storage_->bytes);
}

Tensor Tensor::view(std::vector<int64_t> shape, DType dtype, const void* data, std::shared_ptr<void> owner,
                    Device device) {
  auto storage = std::make_shared<Storage>();
  storage->data = const_cast<void*>(data);
  storage->device = device;
  storage->owner = std::move(owner);
  storage->file_backed = true;
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  storage->bytes = dtype_bytes(dtype, count);
  return Tensor(std::move(shape), dtype, std::move(storage));
}

int64_t Tensor::numel() const {
  int64_t count = 1;
  for (int64_t extent : shape_) count *= extent;
  return count;
}

Tensor Tensor::row(int64_t i) const {
  SHARDLM_CHECK(rank() >= 1 && i >= 0 && i < shape_[0], "row {} out of range for {}", i, describe());
  std::vector<int64_t> inner(shape_.begin() + 1, shape_.end());
  int64_t inner_count = 1;
  for (int64_t extent : inner) inner_count *= extent;
  return Tensor(std::move(inner), dtype_, storage_, offset_ + dtype_bytes(dtype_, i * inner_count));
}

Tensor Tensor::rows(int64_t begin, int64_t count) const {
  SHARDLM_CHECK(rank() >= 1 && begin >= 0 && count >= 0 && begin + count <= shape_[0], "rows {}..{} out of range for {}",
                begin, begin + count, describe());
  std::vector<int64_t> shape = shape_;
  shape[0] = count;
  return Tensor(std::move(shape), dtype_, storage_, offset_ + begin * (bytes() / std::max<int64_t>(shape_[0], 1)));
}

std::string Tensor::describe() const { return fmt::format("{}[{}]", dtype_name(dtype_), fmt::join(shape_, ", ")); }

}  // namespace shardlm
