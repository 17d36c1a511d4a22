// The acceptance rule of speculative sampling (Leviathan et al. 2023; Chen et al. 2023), which keeps
// the target model's output distribution exactly: a drafted token x drawn from the draft's
// distribution q is accepted with probability min(1, p(x) / q(x)), where p is the target's; when it
// is rejected, the replacement is drawn from max(0, p - q), renormalised. A prompt-lookup draft is a
// point mass at x, so x is accepted with probability p(x) and the replacement comes from p without x.
#pragma once

#include <cstdint>
#include <span>

#include "runtime/engine/uniform_source.h"

namespace shardlm {

// The token drawn from `probs` (non-negative, summing to about 1) by the uniform u in [0, 1).
int32_t sample_from(std::span<const float> probs, double u);

struct DraftVerdict {
  bool accepted;
  int32_t replacement;  // when rejected: the token drawn from the residual distribution
};

// Accepts or rejects the drafted token x, drawn from q (an empty q is a point mass at x), against the
// target's distribution p over the same vocabulary.
DraftVerdict verify_draft_token(std::span<const float> p, std::span<const float> q, int32_t x, UniformSource& random);

}  // namespace shardlm
