// Drafts from a small model that shares the target's tokenizer (a smaller sibling, or a cheaper copy
// of the target): k tokens one forward pass each, greedily or sampled from its own processed
// distribution, with its own KV cache. Tokens the target rejected are rolled back by forgetting them:
// the next draft first feeds whatever of the context the cache lacks, from the common prefix on.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/engine/sampler.h"
#include "runtime/engine/speculative.h"
#include "runtime/engine/speculative_sampling.h"
#include "runtime/model/decoder.h"

namespace shardlm {

class DraftModelDrafter : public Drafter {
 public:
  // `capacity`: positions the draft cache holds (the target's context and drafts). Throws when the
  // vocabularies differ. Sampling as the target's (greedy drafts when the temperature is 0), with a
  // generator seeded apart from the target's.
  DraftModelDrafter(Decoder& draft_model, const ModelSpec& target_spec, int64_t capacity,
                    const SamplingParams& sampling);
  void draft(std::span<const int32_t> context, int64_t k, Draft& out) override;

 private:
  Decoder& model_;
  KvCache cache_;
  std::vector<int32_t> cached_;  // the tokens whose keys and values the cache holds, in order
  Sampler sampler_;
  UniformSource random_;
  std::vector<float> probs_;
};

}  // namespace shardlm
