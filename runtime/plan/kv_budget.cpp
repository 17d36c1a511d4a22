#include "runtime/plan/kv_budget.h"

#include <algorithm>
#include <limits>

#include "runtime/core/check.h"

namespace shardlm {

KvFootprint KvFootprint::of_model(const ModelSpec& spec, DType dtype) {
  return KvFootprint{spec.layers, spec.kv_heads, spec.head_dim, dtype};
}

void KvFootprint::validate() const {
  SHARDLM_CHECK(layers > 0, "KV footprint: layers must be positive (got {})", layers);
  SHARDLM_CHECK(kv_heads > 0, "KV footprint: kv_heads must be positive (got {})", kv_heads);
  SHARDLM_CHECK(head_dim > 0, "KV footprint: head_dim must be positive (got {})", head_dim);
  int64_t values = 0;
  size_t bytes = 0;
  SHARDLM_CHECK(!__builtin_mul_overflow(2 * layers, kv_heads, &values) &&
                    !__builtin_mul_overflow(values, head_dim, &values) &&
                    !__builtin_mul_overflow(static_cast<size_t>(values), size_t{4}, &bytes),
                "KV footprint: 2 x {} layers x {} KV heads x {} head_dim values overflows", layers, kv_heads, head_dim);
  SHARDLM_CHECK(!is_block_dtype(dtype) || head_dim % kQuantBlock == 0,
                "a {} KV cache keeps each head's values in blocks of {}; head_dim {} is not a multiple of {}",
                dtype_name(dtype), kQuantBlock, head_dim, kQuantBlock);
}

int64_t KvFootprint::values_per_token() const {
  validate();
  return 2 * layers * kv_heads * head_dim;
}

size_t KvFootprint::bytes_per_token() const { return dtype_bytes(dtype, values_per_token()); }

size_t KvFootprint::bytes_per_block(int64_t block_size) const {
  SHARDLM_CHECK(block_size > 0, "KV block size must be positive (got {})", block_size);
  size_t bytes = 0;
  SHARDLM_CHECK(!__builtin_mul_overflow(bytes_per_token(), static_cast<size_t>(block_size), &bytes),
                "KV block of {} tokens x {} bytes overflows", block_size, bytes_per_token());
  return bytes;
}

int64_t blocks_for_sequences(int64_t sequences, int64_t tokens, int64_t block_size) {
  SHARDLM_CHECK(sequences > 0 && tokens > 0 && block_size > 0,
                "KV pool for {} sequences of {} tokens in blocks of {}: every count must be positive", sequences, tokens,
                block_size);
  return sequences * ((tokens + block_size - 1) / block_size);
}

int64_t blocks_for_budget(size_t budget_bytes, size_t bytes_per_token, int64_t block_size) {
  SHARDLM_CHECK(bytes_per_token > 0, "KV bytes per token must be positive");
  SHARDLM_CHECK(block_size > 0, "KV block size must be positive (got {})", block_size);
  size_t block_bytes = 0;
  // A block larger than any size_t cannot fit in any budget.
  if (__builtin_mul_overflow(bytes_per_token, static_cast<size_t>(block_size), &block_bytes)) return 0;
  size_t blocks = budget_bytes / block_bytes;
  return static_cast<int64_t>(std::min<size_t>(blocks, std::numeric_limits<int64_t>::max()));
}

}  // namespace shardlm
