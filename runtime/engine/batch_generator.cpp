#include "runtime/engine/batch_generator.h"

#include <algorithm>
#include <chrono>

namespace shardlm {

std::vector<std::vector<int32_t>> generate_batch(Decoder& model, const std::vector<GenerationRequest>& requests,
                                                 int64_t max_batch, EngineCounters* counters, double* seconds,
                                                 int64_t num_blocks) {
  EngineOptions options;
  options.max_batch = max_batch;
  int64_t longest = 1;
  for (const auto& r : requests)
    longest = std::max<int64_t>(longest, std::min<int64_t>(model.spec().max_seq_len, r.prompt.size() + r.max_new_tokens));
  const int64_t blocks_per_sequence = (longest + options.block_size - 1) / options.block_size;
  options.num_blocks = num_blocks > 0 ? num_blocks
                                      : blocks_per_sequence * std::min<int64_t>(max_batch, std::max<size_t>(1, requests.size()));
  Engine engine(model, options);
  for (const auto& r : requests) engine.submit(r);
  const auto start = std::chrono::steady_clock::now();
  engine.run_to_completion();
  if (seconds) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (counters) *counters = engine.counters();
  std::vector<std::vector<int32_t>> outputs;
  for (size_t i = 0; i < requests.size(); ++i) outputs.push_back(engine.output(static_cast<int64_t>(i)));
  return outputs;
}

}  // namespace shardlm
