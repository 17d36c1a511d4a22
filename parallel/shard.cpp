#include "parallel/shard.h"

#include "runtime/core/check.h"

namespace shardlm {
namespace {

// Part `index` of `total` split into `parts` contiguous ranges whose sizes differ by at most one.
void even_range(int64_t total, int parts, int index, int64_t& first, int64_t& count) {
  const int64_t base = total / parts, extra = total % parts;
  first = index * base + std::min<int64_t>(index, extra);
  count = base + (index < extra ? 1 : 0);
}

}  // namespace

TensorParallelShard TensorParallelShard::plan(const std::string& model, int64_t heads, int64_t kv_heads, int64_t ffn,
                                              int64_t vocab, int tp, int tp_rank) {
  SHARDLM_CHECK(tp >= 1 && tp_rank >= 0 && tp_rank < tp, "tensor-parallel rank {} of {} is out of range", tp_rank, tp);
  SHARDLM_CHECK(tp <= heads && tp <= ffn,
                "{} cannot be split over --tp {}: it has {} query heads and an FFN of {}, and every rank needs at "
                "least one of each; use --tp 1 to {}",
                model, tp, heads, ffn, std::min(heads, ffn));
  SHARDLM_CHECK(kv_heads > 0 && heads % kv_heads == 0, "{}: {} heads cannot be grouped over {} key/value heads", model,
                heads, kv_heads);
  TensorParallelShard shard;
  shard.tp = tp;
  shard.tp_rank = tp_rank;
  even_range(heads, tp, tp_rank, shard.first_head, shard.heads);
  even_range(ffn, tp, tp_rank, shard.first_ffn, shard.ffn);
  even_range(vocab, tp, tp_rank, shard.first_vocab, shard.vocab);
  const int64_t group = heads / kv_heads;
  const bool even_heads = heads % tp == 0;
  if (even_heads && kv_heads % tp == 0) {
    for (int64_t j = 0; j < kv_heads / tp; ++j) shard.kv_sources.push_back(tp_rank * (kv_heads / tp) + j);
  } else if (even_heads && group % shard.heads == 0) {
    shard.kv_sources.push_back(shard.first_head / group);  // all of this rank's heads read one KV head
  } else {
    for (int64_t h = shard.first_head; h < shard.first_head + shard.heads; ++h) shard.kv_sources.push_back(h / group);
  }
  return shard;
}

}  // namespace shardlm
