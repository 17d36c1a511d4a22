// Several requests through the engine at once, for callers that want all outputs together.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/engine/engine.h"

namespace shardlm {

// Generated tokens of each request, in request order, with at most max_batch sequences in flight
// and a KV pool large enough for that many of the longest request (so nothing is preempted).
// Stops a sequence at a stop token (not included), at max_new_tokens, or at the end of the context.
// num_blocks > 0 sizes the KV pool instead (sequences are then preempted when it runs out).
std::vector<std::vector<int32_t>> generate_batch(Decoder& model, const std::vector<GenerationRequest>& requests,
                                                 int64_t max_batch, EngineCounters* counters = nullptr,
                                                 double* seconds = nullptr, int64_t num_blocks = 0);

}  // namespace shardlm
