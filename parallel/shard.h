// How one tensor-parallel rank's share of a decoder layer is chosen: query heads and FFN columns
// split evenly; key/value heads split too when there are at least as many as ranks, otherwise each
// rank keeps the one KV head its query heads read (MQA, small GQA), replicated across ranks.
// Pure arithmetic on the model's sizes; runtime/model/shard_weights.cpp cuts the tensors.
#pragma once

#include <cstdint>
#include <string>

namespace shardlm {

struct TensorParallelShard {
  int tp = 1, tp_rank = 0;
  int64_t first_head = 0, heads = 0;        // query heads [first_head, first_head + heads)
  int64_t first_kv_head = 0, kv_heads = 0;  // key/value heads this rank holds
  bool kv_replicated = false;               // kv_heads < tp: ranks share (copies of) KV heads
  int64_t first_ffn = 0, ffn = 0;           // FFN columns [first_ffn, first_ffn + ffn)

  // Throws when the model cannot be split over tp ranks, naming why and which tp values would work.
  static TensorParallelShard plan(const std::string& model, int64_t heads, int64_t kv_heads, int64_t ffn, int tp,
                                  int tp_rank);
};

}  // namespace shardlm
