// How well a model predicts a text: exp(mean negative log-likelihood of its tokens), the measure the
// guide uses to judge lower precision. The tokens are cut into windows, each scored on its own from
// position 0 with the model's BOS first when it has one (so that every token is predicted; without a
// BOS a window's first token is context only): the non-overlapping scheme of transformers' perplexity
// guide, which tests/reference/make_fixtures.py follows to give the reference figure.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "runtime/model/decoder.h"

namespace shardlm {

struct PerplexityScore {
  double total_nll = 0;  // sum over scored tokens of -log p(token | the window before it)
  int64_t tokens = 0;    // tokens scored
  int64_t windows = 0;
  double mean_nll() const { return total_nll / static_cast<double>(tokens); }
  double perplexity() const { return std::exp(mean_nll()); }
};

// Scores `tokens` (no BOS among them) in windows of `context` positions, BOS included; keys and values
// go through a paged pool in kv_dtype, as the engine keeps them. Collective under tensor parallelism:
// every rank calls it with the same tokens. Throws if there is nothing to score.
PerplexityScore score_text(Decoder& decoder, const std::vector<int32_t>& tokens, int32_t bos, int64_t context,
                           DType kv_dtype);

}  // namespace shardlm
