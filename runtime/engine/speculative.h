// Speculative decoding by prompt lookup, for greedy generation on one rank: a draft of the next k
// tokens is copied from the context (what followed the last occurrence of the context's final
// n-gram), and one forward pass over the last token and the draft checks them all. Every draft
// token that equals the model's own argmax is kept, and the pass's next argmax comes free, so the
// output is exactly plain greedy decoding's, in fewer passes when the text repeats itself.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/model/decoder.h"

namespace shardlm {

struct SpeculationStats {
  int64_t passes = 0;           // decode forward passes
  int64_t drafted = 0;          // draft tokens proposed
  int64_t accepted = 0;         // of those, kept
  int64_t generated = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

// Up to k tokens that followed the most recent earlier occurrence of the context's last n-gram,
// trying n = max_ngram down to 1; empty when nothing matches.
std::vector<int32_t> prompt_lookup_draft(std::span<const int32_t> context, int64_t k, int64_t max_ngram = 3);

// Greedy generation with prompt-lookup drafts of up to `draft_tokens` tokens. Stops at a stop
// token (not passed on), max_new_tokens, the context's end, or when on_token returns false.
SpeculationStats generate_greedy_speculative(Decoder& model, const std::vector<int32_t>& prompt,
                                             int64_t max_new_tokens, int64_t draft_tokens,
                                             const std::function<bool(int32_t)>& on_token);

}  // namespace shardlm
