// What the decode benchmarks share: greedy decode speed (one token per forward pass from position 0,
// the median of `runs` timed runs after one that warms the caches) and the weight bytes a token reads.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "runtime/model/decoder.h"
#include "runtime/model/model_loader.h"

namespace shardlm {

inline double greedy_decode_tokens_per_second(const LoadedModel& model, int threads, int tokens, int runs) {
  ThreadPool pool(threads);
  Decoder decoder(model.spec, model.weights, pool);
  KvCache cache(model.spec, tokens);
  std::vector<double> rates;
  for (int run = 0; run <= runs; ++run) {  // run 0 warms the caches and is not counted
    int32_t token = 1;
    const auto start = std::chrono::steady_clock::now();
    for (int position = 0; position < tokens; ++position) {
      const int32_t step[] = {token};
      const auto logits = decoder.forward(step, position, cache);
      token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (run > 0) rates.push_back(tokens / seconds);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

// What one decode step reads of the weights: all of them but the embedding tables, of which it reads
// one row (unless the table is also the LM head).
inline double decode_weight_bytes_per_token(const LoadedModel& model) {
  ThreadPool pool(1);
  const Decoder decoder(model.spec, model.weights, pool);
  double bytes = static_cast<double>(decoder.weight_bytes());
  const ModelWeights& w = model.weights;
  if (w.token_embedding.defined() && w.token_embedding.data() != w.lm_head.data())
    bytes -= static_cast<double>(w.token_embedding.bytes());
  if (w.position_embedding.defined()) bytes -= static_cast<double>(w.position_embedding.bytes());
  return bytes;
}

}  // namespace shardlm
