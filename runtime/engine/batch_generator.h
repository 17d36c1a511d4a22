// Continuous batching on one rank: many requests, at most max_batch sequences in flight. Every step
// runs one forward pass over all of them (new sequences' prompts and running sequences' last
// tokens together); a finished sequence leaves at once and a waiting one takes its place at the
// next step. Each sequence has its own sampler, so its tokens do not depend on its neighbours.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/engine/sampler.h"
#include "runtime/model/decoder.h"

namespace shardlm {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int64_t max_new_tokens = 256;
  SamplingParams sampling;
};

struct BatchStats {
  int64_t steps = 0;
  int64_t generated_tokens = 0;
  int64_t largest_batch = 0;
  double seconds = 0;
};

// Called with (request index, token) as each token is sampled.
using BatchTokenCallback = std::function<void(size_t request, int32_t token)>;

// Generated tokens of each request, in request order. Stops a sequence at a stop token (not
// included), at max_new_tokens, or at the end of the context.
std::vector<std::vector<int32_t>> generate_batch(Decoder& model, const std::vector<GenerationRequest>& requests,
                                                 int64_t max_batch, const BatchTokenCallback& on_token = nullptr,
                                                 BatchStats* stats = nullptr);

}  // namespace shardlm
