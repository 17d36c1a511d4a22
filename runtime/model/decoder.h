// The generic decoder: embedding, N blocks (norm, attention, norm, MLP), final norm, LM head.
// This rank holds all layers; parallel/ splits it later.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/core/thread_pool.h"
#include "runtime/model/kv_cache.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_weights.h"

namespace shardlm {

class Decoder {
 public:
  // Throws when the spec asks for a switch this decoder does not implement yet, naming it.
  Decoder(ModelSpec spec, ModelWeights weights, ThreadPool& pool);

  const ModelSpec& spec() const { return spec_; }

  // Runs `tokens` at positions start_pos, start_pos+1, ... writing their keys and values into the
  // cache, and returns the logits [vocab] of the last token. All tokens go through each matmul
  // together (one [T, hidden] x [hidden, out] product), which is what makes prefill fast.
  std::span<const float> forward(std::span<const int32_t> tokens, int64_t start_pos, KvCache& cache);

 private:
  void ensure_scratch(int64_t tokens);
  void attention_block(const LayerWeights& layer, int64_t layer_index, int64_t tokens, int64_t start_pos,
                       KvCache& cache);
  void mlp_block(const LayerWeights& layer, int64_t tokens);

  ModelSpec spec_;
  ModelWeights weights_;
  ThreadPool& pool_;
  // Scratch activations, grown to the largest token count seen: [T, width] each.
  int64_t scratch_tokens_ = 0;
  std::vector<float> x_, normed_, q_, k_, v_, attn_, gate_, up_, logits_;
  std::vector<int32_t> positions_;
};

}  // namespace shardlm
