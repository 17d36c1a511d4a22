#include "runtime/model/kv_cache.h"

#include "runtime/backend/backend.h"
#include "runtime/core/check.h"

namespace shardlm {

KvCache::KvCache(const ModelSpec& spec, int64_t capacity, Backend& memory)
    : capacity_(capacity), kv_dim_(spec.kv_dim()) {
  SHARDLM_CHECK(capacity > 0 && capacity <= spec.max_seq_len, "KV cache of {} positions: must be 1..{}", capacity,
                spec.max_seq_len);
  for (int64_t layer = 0; layer < spec.layers; ++layer) {
    keys_.push_back(memory.zeros({capacity, kv_dim_}, DType::f32));
    values_.push_back(memory.zeros({capacity, kv_dim_}, DType::f32));
  }
}

size_t KvCache::bytes() const { return 2 * keys_.size() * static_cast<size_t>(capacity_ * kv_dim_) * sizeof(float); }

size_t KvCache::bytes_for(const ModelSpec& spec, int64_t positions) {
  return 2 * static_cast<size_t>(spec.layers * spec.kv_dim() * positions) * sizeof(float);
}

}  // namespace shardlm
