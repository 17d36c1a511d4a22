// The largest step a plan sizes a rank for: every sequence's whole prompt at once, each sequence in
// blocks of its own of a paged pool (what the engine runs first). Shared by the tests that hold the
// planner's memory against a real rank's allocations.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/model/decoder.h"
#include "runtime/model/kv_pool.h"
#include "runtime/plan/workload.h"

namespace shardlm::test {

inline void run_largest_step(Decoder& decoder, KvPool& pool, const plan::Workload& workload) {
  std::vector<int32_t> prompt(workload.prompt_tokens);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((5 + 11 * i) % decoder.spec().vocab_size);
  const int64_t blocks_each = (workload.prompt_tokens + workload.block_size - 1) / workload.block_size;
  std::vector<std::vector<int32_t>> tables(workload.concurrency);
  std::vector<SequenceSlice> step;
  for (int64_t s = 0; s < workload.concurrency; ++s) {
    for (int64_t b = 0; b < blocks_each; ++b) tables[s].push_back(static_cast<int32_t>(s * blocks_each + b));
    step.push_back({prompt, 0, nullptr, &pool, tables[s]});
  }
  decoder.forward_batch(step);
}

}  // namespace shardlm::test
