#include "parallel/shard.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <vector>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

bool splits(int64_t heads, int64_t kv_heads, int64_t ffn, int tp) {
  if (heads % tp != 0 || ffn % tp != 0) return false;
  // KV heads split evenly, or (fewer than ranks) each rank's query heads all read one KV head.
  return kv_heads >= tp ? kv_heads % tp == 0 : tp % kv_heads == 0;
}

}  // namespace

TensorParallelShard TensorParallelShard::plan(const std::string& model, int64_t heads, int64_t kv_heads, int64_t ffn,
                                              int tp, int tp_rank) {
  SHARDLM_CHECK(tp >= 1 && tp_rank >= 0 && tp_rank < tp, "tensor-parallel rank {} of {} is out of range", tp_rank, tp);
  if (!splits(heads, kv_heads, ffn, tp)) {
    std::vector<int> working;
    for (int candidate = 1; candidate <= 64; ++candidate)
      if (splits(heads, kv_heads, ffn, candidate)) working.push_back(candidate);
    SHARDLM_FAIL(
        "{} cannot be split over --tp {}: it has {} query heads, {} key/value heads and an FFN of {}; tp must divide "
        "the query heads and the FFN, and divide or be a multiple of the key/value heads. These would work: {}",
        model, tp, heads, kv_heads, ffn, fmt::join(working, ", "));
  }
  TensorParallelShard shard;
  shard.tp = tp;
  shard.tp_rank = tp_rank;
  shard.heads = heads / tp;
  shard.first_head = tp_rank * shard.heads;
  shard.kv_replicated = kv_heads < tp;
  if (shard.kv_replicated) {
    shard.kv_heads = 1;
    shard.first_kv_head = shard.first_head / (heads / kv_heads);  // the group its query heads belong to
  } else {
    shard.kv_heads = kv_heads / tp;
    shard.first_kv_head = tp_rank * shard.kv_heads;
  }
  shard.ffn = ffn / tp;
  shard.first_ffn = tp_rank * shard.ffn;
  return shard;
}

}  // namespace shardlm
