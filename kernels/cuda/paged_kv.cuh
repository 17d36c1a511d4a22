// Where position p of KV head h lies in the attention kernels' K/V: a contiguous cache
// ([positions, kv_stride]) or a paged pool ([blocks][kv_heads][block_size][head_dim]) through the
// sequence's block table.
#pragma once

#include "kernels/cuda/ops.h"

namespace shardlm::cuda {

__device__ inline int64_t kv_offset(const AttentionArgs& a, int64_t p, int64_t kv_head) {
  if (a.block_table == nullptr) return p * a.kv_stride + kv_head * a.head_dim;
  const int64_t block = a.block_table[p / a.block_size];
  return ((block * a.kv_heads + kv_head) * a.block_size + p % a.block_size) * a.head_dim;
}

}  // namespace shardlm::cuda
