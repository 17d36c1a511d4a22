// Helpers shared by the MPI tests.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/core/tensor.h"

namespace shardlm::testing_support {

inline Tensor host_tensor(std::vector<int64_t> shape, DType dtype = DType::f32) {
  return cpu_backend().empty(std::move(shape), dtype);
}

// Values that are multiples of 0.5 well below 2^23, so sums over ranks are exact in f32 whatever
// order MPI adds them in, and the test can compare with ==.
inline float test_value(int rank, size_t index) { return 0.5f * static_cast<float>(index % 97) + 1000.0f * rank; }

// The (tp, pp) pairs with tp x pp == world.
inline std::vector<std::pair<int, int>> factorisations(int world) {
  std::vector<std::pair<int, int>> pairs;
  for (int tp = 1; tp <= world; ++tp) {
    if (world % tp == 0) pairs.emplace_back(tp, world / tp);
  }
  return pairs;
}

}  // namespace shardlm::testing_support
