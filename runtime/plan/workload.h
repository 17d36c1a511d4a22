// What a deployment is asked to do and how it is laid out: the inputs of every plan.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/plan/number_format.h"

namespace shardlm::plan {

struct Workload {
  int64_t context = 0;      // tokens one sequence may reach (0: the model's context)
  int64_t concurrency = 1;  // sequences decoded together
  int64_t prompt_tokens = 512;
  int64_t output_tokens = 128;
  int64_t max_step_tokens = 0;            // chunked prefill budget per step (0: whole prompts, as the engine)
  int64_t block_size = 16;                // KV block, tokens (the engine's)
  int threads = 0;                        // cpu: threads per rank (0: the machine's cores shared by its ranks)
  std::optional<int64_t> kv_cache_bytes;  // a fixed KV pool per rank (--kv-cache-memory), else sized
                                          // for concurrency x (prompt + output) tokens, as generate does
};

struct Layout {
  int tp = 1, pp = 1;
  std::vector<int64_t> pp_layers;  // empty: balanced
  NumberFormat weights = NumberFormat::bf16;
  NumberFormat kv = NumberFormat::bf16;
  int ranks() const { return tp * pp; }
};

// Throws naming the flag of the first value out of range.
void validate(const Workload& workload);

}  // namespace shardlm::plan
