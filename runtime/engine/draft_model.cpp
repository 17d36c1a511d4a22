#include "runtime/engine/draft_model.h"

#include <algorithm>

#include "runtime/core/check.h"

namespace shardlm {

DraftModelDrafter::DraftModelDrafter(Decoder& draft_model, const ModelSpec& target_spec, int64_t capacity,
                                     const SamplingParams& sampling)
    : model_(draft_model),
      cache_(draft_model.spec(), std::min(capacity, draft_model.spec().max_seq_len)),
      sampler_(sampling),
      random_(sampling.seed ^ 0xD1B54A32D192ED03ull) {
  SHARDLM_CHECK(draft_model.spec().vocab_size == target_spec.vocab_size,
                "the draft model's vocabulary has {} tokens, the target's {}: a draft model must share the "
                "target's tokenizer",
                draft_model.spec().vocab_size, target_spec.vocab_size);
}

void DraftModelDrafter::draft(std::span<const int32_t> context, int64_t k, Draft& out) {
  out.tokens.clear();
  out.probs.clear();
  const auto length = static_cast<int64_t>(context.size());
  // A draft model with a shorter context than the target's stops drafting where its own ends.
  k = std::min(k, cache_.capacity() - length);
  if (k <= 0) return;
  // Roll back to what the cache and the context agree on (rejected drafts are no longer in the context).
  const auto common = std::mismatch(cached_.begin(), cached_.end(), context.begin(), context.end()).first;
  cached_.erase(common, cached_.end());
  // Always feed at least the last context token, whose logits predict the first draft token.
  if (static_cast<int64_t>(cached_.size()) == length) cached_.pop_back();
  const auto start = static_cast<int64_t>(cached_.size());
  std::span<const float> logits = model_.forward(context.subspan(start), start, cache_);
  cached_.assign(context.begin(), context.end());
  const bool greedy = sampler_.params().temperature == 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    int32_t token;
    if (greedy) {
      token = sampler_.sample(logits, cached_);
    } else {
      sampler_.distribution(logits, cached_, probs_);
      token = sample_from(probs_, random_.next());
      out.probs.push_back(probs_);
    }
    out.tokens.push_back(token);
    if (i + 1 == k) break;  // the last draft token need not be fed: nothing reads its logits
    const int32_t step[] = {token};
    logits = model_.forward(step, static_cast<int64_t>(cached_.size()), cache_);
    cached_.push_back(token);
  }
}

}  // namespace shardlm
