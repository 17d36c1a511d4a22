// How many tokens' MLP hidden rows a decoder on a CPU holds at once: the MLP runs over a long
// prompt's tokens a chunk at a time (its rows are independent), so a prefill's widest activations
// (2 x ffn values a token for up and gate) are a chunk's, not the whole prompt's. The planner counts
// the same. A GPU runs the whole step at once: there a chunk would cost its products' efficiency.
#pragma once

#include <cstdint>

namespace shardlm {

inline constexpr int64_t kCpuMlpChunkTokens = 256;

}  // namespace shardlm
