// The plainest generation loop, for one sequence on one rank with a contiguous cache: prefill the
// prompt in one forward pass, then decode token by token. The engine (engine.h) is what serves;
// this loop is the reference its outputs are tested against, and what the decode benchmark times.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

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

// Called with each new token as soon as it is sampled; return false to stop early.
using TokenCallback = std::function<bool(int32_t token)>;

// Generates up to max_new_tokens after `prompt` (non-empty, within the context). Stops early at one
// of the model's stop tokens (not passed to on_token) or at the context's end.
GenerationStats generate(Decoder& model, const std::vector<int32_t>& prompt, int64_t max_new_tokens, Sampler& sampler,
                         const TokenCallback& on_token);

}  // namespace shardlm
