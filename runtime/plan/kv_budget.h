// How many tokens of K/V one rank can hold: the single formula the planner (which sizes a
// deployment) and the engine (which carves its KV pool into blocks) both use, so their numbers agree.
//   bytes per token per rank = 2 (K and V) x layers on the rank x KV heads on the rank x head_dim
//                              x bytes of the KV dtype
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/core/dtype.h"
#include "runtime/model/model_spec.h"

namespace shardlm {

// The K/V one rank keeps per token. Built from the rank's share: its pipeline stage's layer count
// and its tensor-parallel KV heads (parallel/shard.h; replicated copies count, since they take memory).
struct KvFootprint {
  int64_t layers = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  DType dtype = DType::bf16;

  // The whole model on one rank.
  static KvFootprint of_model(const ModelSpec& spec, DType dtype);
  // Throws naming the first size that is not positive, or a product that overflows.
  void validate() const;
  int64_t values_per_token() const;  // 2 x layers x kv_heads x head_dim
  size_t bytes_per_token() const;    // values_per_token x dtype size
  size_t bytes_per_block(int64_t block_size) const;
};

// Blocks for `sequences` sequences of up to `tokens` positions each: what the engine's pool gets when no
// --kv-cache-memory is given (every sequence can reach its length without preemption).
int64_t blocks_for_sequences(int64_t sequences, int64_t tokens, int64_t block_size);

// Whole blocks of block_size tokens that fit in budget_bytes, rounded down (0 when not even one fits).
int64_t blocks_for_budget(size_t budget_bytes, size_t bytes_per_token, int64_t block_size);

}  // namespace shardlm
