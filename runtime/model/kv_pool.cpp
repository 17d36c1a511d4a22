#include "runtime/model/kv_pool.h"

#include <cstring>

#include "runtime/backend/backend.h"
#include "runtime/core/check.h"

namespace shardlm {

KvPool::KvPool(const ModelSpec& spec, int64_t num_blocks, int64_t block_size)
    : num_blocks_(num_blocks), block_size_(block_size), kv_heads_(spec.kv_heads), head_dim_(spec.head_dim) {
  SHARDLM_CHECK(num_blocks > 0 && block_size > 0, "a KV pool needs blocks and a block size (got {} of {})", num_blocks,
                block_size);
  for (int64_t layer = 0; layer < spec.layers; ++layer) {
    // Uninitialised: attention reads only positions a forward pass has written.
    keys_.push_back(cpu_backend().empty({num_blocks, kv_heads_, block_size, head_dim_}, DType::f32));
    values_.push_back(cpu_backend().empty({num_blocks, kv_heads_, block_size, head_dim_}, DType::f32));
  }
}

void KvPool::write(int64_t layer, const float* k, const float* v, int64_t tokens, int64_t start_pos,
                   std::span<const int32_t> block_table) {
  SHARDLM_CHECK(start_pos + tokens <= static_cast<int64_t>(block_table.size()) * block_size_,
                "positions {}..{} are beyond the {} blocks of the sequence's table", start_pos, start_pos + tokens - 1,
                block_table.size());
  float* key_pool = keys(layer);
  float* value_pool = values(layer);
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t position = start_pos + t;
    const int64_t block = block_table[position / block_size_];
    SHARDLM_CHECK(block >= 0 && block < num_blocks_, "block {} is outside the pool of {}", block, num_blocks_);
    for (int64_t h = 0; h < kv_heads_; ++h) {
      const int64_t at = ((block * kv_heads_ + h) * block_size_ + position % block_size_) * head_dim_;
      std::memcpy(key_pool + at, k + (t * kv_heads_ + h) * head_dim_, head_dim_ * sizeof(float));
      std::memcpy(value_pool + at, v + (t * kv_heads_ + h) * head_dim_, head_dim_ * sizeof(float));
    }
  }
}

size_t KvPool::bytes() const {
  return 2 * keys_.size() * static_cast<size_t>(num_blocks_ * kv_heads_ * block_size_ * head_dim_) * sizeof(float);
}

}  // namespace shardlm
