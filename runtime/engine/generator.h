// The generation loop for one sequence: prefill the prompt in one forward pass, then decode token by
// token until a stop token or the limit. Across ranks, rank 0 (the coordinator) decides each step
// and broadcasts it; every rank runs its share of the forward pass; pipeline stages hand hidden
// states on; the last stage returns the logits to rank 0, which samples.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "parallel/comm/communicator.h"
#include "parallel/world.h"
#include "runtime/engine/sampler.h"
#include "runtime/model/decoder.h"

namespace shardlm {

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;  // the prompt's forward pass, which also yields the first new token
  double decode_seconds = 0;   // every later forward pass
  double prefill_tokens_per_second() const { return prefill_seconds > 0 ? prompt_tokens / prefill_seconds : 0; }
  // Tokens produced by decode passes (all but the first) per second of decoding.
  double decode_tokens_per_second() const {
    return decode_seconds > 0 ? (generated_tokens - 1) / decode_seconds : 0;
  }
};

// Called on rank 0 with each new token as soon as it is sampled; return false to stop early.
using TokenCallback = std::function<bool(int32_t token)>;

// How this rank reaches the others; a default-constructed one is a world of one.
struct RankLinks {
  WorldConfig world;
  Communicator* world_comm = nullptr;
};

// Generates up to max_new_tokens after `prompt` (non-empty, within the context). Stops early at one
// of the model's stop tokens (not passed to on_token) or at the context's end. Every rank calls it;
// prompt, sampler and on_token are used on rank 0 only, and the stats are rank 0's.
GenerationStats generate(Decoder& model, const RankLinks& links, const std::vector<int32_t>& prompt,
                         int64_t max_new_tokens, Sampler* sampler, const TokenCallback& on_token);

// A world of one.
inline GenerationStats generate(Decoder& model, const std::vector<int32_t>& prompt, int64_t max_new_tokens,
                                Sampler& sampler, const TokenCallback& on_token) {
  return generate(model, RankLinks{}, prompt, max_new_tokens, &sampler, on_token);
}

}  // namespace shardlm
