// Speculative decoding on one rank: a drafter proposes the next k tokens, and one forward pass of the
// target model over the last token and the draft checks them all. Drafts come from the context itself
// (prompt lookup: what followed the last occurrence of the context's final n-gram) or from a small
// draft model sharing the tokenizer (draft_model.h). Greedy: every draft token equal to the target's
// own argmax is kept and the pass's next argmax comes free, so the output is exactly plain greedy
// decoding's. Sampling: the speculative-sampling rule (speculative_sampling.h) keeps the target's
// output distribution exactly. Either way fewer target passes are needed when drafts are good.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/engine/sampler.h"
#include "runtime/model/decoder.h"

namespace shardlm {

struct SpeculationStats {
  int64_t passes = 0;           // decode forward passes of the target
  int64_t drafted = 0;          // draft tokens proposed
  int64_t accepted = 0;         // of those, kept
  int64_t generated = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

struct Draft {
  std::vector<int32_t> tokens;
  // probs[i] is the distribution over the vocabulary tokens[i] was drawn from; empty when every
  // token is a point mass (prompt lookup, greedy draft models).
  std::vector<std::vector<float>> probs;
};

class Drafter {
 public:
  virtual ~Drafter() = default;
  // Up to k tokens to follow `context` (which only ever grows, except that tokens of an earlier
  // draft the target rejected are gone: a drafter with state rolls back to the common prefix).
  virtual void draft(std::span<const int32_t> context, int64_t k, Draft& out) = 0;
};

// Up to k tokens that followed the most recent earlier occurrence of the context's last n-gram,
// trying n = max_ngram down to 1; empty when nothing matches.
std::vector<int32_t> prompt_lookup_draft(std::span<const int32_t> context, int64_t k, int64_t max_ngram = 3);

// Prompt lookup that adapts its length: a draft costs the target pass one more query token each,
// so after a rejection it drafts at most one token more than were kept, growing again by doubling
// while drafts are accepted whole. A match of only one token drafts at most two.
// With adaptive = false, every draft is as long as the match allows, up to k.
class PromptLookupDrafter : public Drafter {
 public:
  explicit PromptLookupDrafter(bool adaptive = true, int64_t max_ngram = 3)
      : adaptive_(adaptive), max_ngram_(max_ngram) {}
  void draft(std::span<const int32_t> context, int64_t k, Draft& out) override;

 private:
  bool adaptive_;
  int64_t max_ngram_;
  int64_t limit_ = 0;                // this draft's length limit; 0 before the first draft
  int64_t last_length_ = 0;          // the previous draft's length, and where it started
  int64_t last_start_ = -1;
};

// Generation with drafts of up to `draft_tokens` tokens from `drafter`, sampled with `sampling`
// (greedy when its temperature is 0; penalties see the prompt and the tokens so far, as the engine's).
// Stops at a stop token (not passed on), max_new_tokens, the context's end, or when on_token returns
// false.
SpeculationStats generate_speculative(Decoder& model, Drafter& drafter, const std::vector<int32_t>& prompt,
                                      int64_t max_new_tokens, int64_t draft_tokens, const SamplingParams& sampling,
                                      const std::function<bool(int32_t)>& on_token);

// Greedy generation with prompt-lookup drafts.
SpeculationStats generate_greedy_speculative(Decoder& model, const std::vector<int32_t>& prompt,
                                             int64_t max_new_tokens, int64_t draft_tokens,
                                             const std::function<bool(int32_t)>& on_token);

}  // namespace shardlm
