#include "runtime/backend/backend.h"

#include <vector>

namespace shardlm {

Tensor Backend::empty(std::vector<int64_t> shape, DType dtype) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  return Tensor(std::move(shape), dtype, alloc(dtype_bytes(dtype, count)));
}

Tensor Backend::zeros(std::vector<int64_t> shape, DType dtype) {
  Tensor tensor = empty(std::move(shape), dtype);
  zero(tensor.data(), tensor.bytes());
  return tensor;
}

}  // namespace shardlm
