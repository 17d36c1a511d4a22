// How one tensor-parallel rank's share of a decoder layer is chosen. Query heads and FFN columns
// are split into contiguous ranges as even as possible (sizes differ by at most one, so 9 heads go
// 5 + 4 over two ranks). Key/value heads follow the query heads:
//  - when every rank's query heads cover whole groups of one KV head each (kv_heads divisible by tp),
//    the KV heads split evenly;
//  - when there are fewer KV heads than ranks and each rank's heads fall in one group (MQA, small
//    GQA), each rank keeps that one KV head, replicated across ranks;
//  - otherwise (an uneven split) each local query head gets its own copy of the KV head it reads,
//    which keeps attention uniform at the cost of a larger K/V projection and cache on that rank.
// Pure arithmetic on the model's sizes; runtime/model/shard_weights.cpp cuts the tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shardlm {

struct TensorParallelShard {
  int tp = 1, tp_rank = 0;
  int64_t first_head = 0, heads = 0;  // query heads [first_head, first_head + heads)
  std::vector<int64_t> kv_sources;    // the global KV head behind each local KV head
  int64_t first_ffn = 0, ffn = 0;     // FFN columns [first_ffn, first_ffn + ffn)
  int64_t first_vocab = 0, vocab = 0; // LM head rows [first_vocab, first_vocab + vocab)

  int64_t kv_heads() const { return static_cast<int64_t>(kv_sources.size()); }
  // Throws when the model cannot be split over tp ranks (more ranks than heads or FFN columns).
  static TensorParallelShard plan(const std::string& model, int64_t heads, int64_t kv_heads, int64_t ffn,
                                  int64_t vocab, int tp, int tp_rank);
};

}  // namespace shardlm
