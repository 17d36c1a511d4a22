#include "runtime/model/kv_pool.h"

#include "runtime/backend/backend.h"
#include "runtime/core/check.h"

namespace shardlm {

KvPool::KvPool(const ModelSpec& spec, int64_t num_blocks, int64_t block_size, DType dtype, Backend& memory)
    : num_blocks_(num_blocks), block_size_(block_size), kv_heads_(spec.kv_heads), head_dim_(spec.head_dim),
      dtype_(dtype) {
  SHARDLM_CHECK(num_blocks > 0 && block_size > 0, "a KV pool needs blocks and a block size (got {} of {})", num_blocks,
                block_size);
  // The attention kernels read these; f16 would lose range (keys of some models exceed 65504). int8
  // (q8_0) scales each token's head in blocks of 32 values, so head_dim must be whole blocks.
  SHARDLM_CHECK(dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::q8_0,
                "a KV pool holds f32, bf16 or int8 (q8_0), not {}", dtype_name(dtype));
  SHARDLM_CHECK(dtype != DType::q8_0 || head_dim_ % kQuantBlock == 0,
                "--kv-dtype int8 keeps each head's keys and values in blocks of {} with a scale each; this model's "
                "head_dim {} is not a multiple of {}",
                kQuantBlock, head_dim_, kQuantBlock);
  for (int64_t layer = 0; layer < spec.layers; ++layer) {
    // Uninitialised: attention reads only positions a forward pass has written.
    keys_.push_back(memory.empty({num_blocks, kv_heads_, block_size, head_dim_}, dtype));
    values_.push_back(memory.empty({num_blocks, kv_heads_, block_size, head_dim_}, dtype));
  }
}

void KvPool::check_write(int64_t tokens, int64_t start_pos, std::span<const int32_t> block_table) const {
  if (tokens <= 0) return;
  SHARDLM_CHECK(start_pos >= 0 && start_pos + tokens <= static_cast<int64_t>(block_table.size()) * block_size_,
                "positions {}..{} are beyond the {} blocks of the sequence's table", start_pos, start_pos + tokens - 1,
                block_table.size());
  for (int64_t b = start_pos / block_size_; b <= (start_pos + tokens - 1) / block_size_; ++b) {
    SHARDLM_CHECK(block_table[b] >= 0 && block_table[b] < num_blocks_, "block {} is outside the pool of {}",
                  block_table[b], num_blocks_);
  }
}

void KvPool::write(int64_t layer, const float* k, const float* v, int64_t tokens, int64_t start_pos,
                   std::span<const int32_t> block_table) {
  check_write(tokens, start_pos, block_table);
  auto* key_pool = static_cast<uint8_t*>(keys_[layer].data());
  auto* value_pool = static_cast<uint8_t*>(values_[layer].data());
  for (int64_t t = 0; t < tokens; ++t) {
    const int64_t position = start_pos + t;
    const int64_t block = block_table[position / block_size_];
    for (int64_t h = 0; h < kv_heads_; ++h) {
      const int64_t at = ((block * kv_heads_ + h) * block_size_ + position % block_size_) * head_dim_;
      const int64_t from = (t * kv_heads_ + h) * head_dim_;
      // A copy for f32; bf16 rounds to nearest even, as runtime/core's conversion does everywhere;
      // int8 quantizes each block of 32 of the head with its own scale (q8_0).
      const size_t offset = dtype_bytes(dtype_, at);
      convert_from_f32(k + from, key_pool + offset, dtype_, head_dim_);
      convert_from_f32(v + from, value_pool + offset, dtype_, head_dim_);
    }
  }
}

size_t KvPool::bytes() const {
  size_t total = 0;
  for (const Tensor& tensor : keys_) total += tensor.bytes();
  for (const Tensor& tensor : values_) total += tensor.bytes();
  return total;
}

}  // namespace shardlm
