// Keys and values of past positions for one sequence, contiguous per layer: [layer][position][kv_dim].
// (The paged, shared-layout pool replaces this in the engine issue.)
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/core/tensor.h"
#include "runtime/model/model_spec.h"

namespace shardlm {

class KvCache {
 public:
  // memory: where the cache lives (the device that runs the attention).
  KvCache(const ModelSpec& spec, int64_t capacity, Backend& memory = cpu_backend());

  int64_t capacity() const { return capacity_; }
  int64_t kv_dim() const { return kv_dim_; }
  float* keys(int64_t layer) { return keys_[layer].data_as<float>(); }
  float* values(int64_t layer) { return values_[layer].data_as<float>(); }
  size_t bytes() const;
  // Bytes a cache of this many positions takes: 2 (K and V) x layers x kv_heads x head_dim x 4 (f32).
  static size_t bytes_for(const ModelSpec& spec, int64_t positions);

 private:
  int64_t capacity_;
  int64_t kv_dim_;
  std::vector<Tensor> keys_, values_;
};

}  // namespace shardlm
