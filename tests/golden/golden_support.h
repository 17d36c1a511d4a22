// Reading the golden fixtures of tests/fixtures/ (written by tests/reference/make_fixtures.py from
// Hugging Face transformers) and running ShardLM's decoder the way transformers' generate does.
#pragma once

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/model/decoder.h"

namespace shardlm::golden {

inline const std::string kFixtures = std::string(SHARDLM_TEST_DATA) + "/../fixtures";
inline const std::string kModels = SHARDLM_MODELS_DIR;

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Greedy continuation: one forward over the prompt, then one token at a time through the KV cache,
// argmax each time, for exactly `count` tokens (or until a stop token when stop_at is given).
inline std::vector<int32_t> greedy(Decoder& decoder, const std::vector<int32_t>& prompt, int count,
                                   int32_t stop_at = -1) {
  KvCache cache(decoder.spec(), static_cast<int64_t>(prompt.size()) + count);
  std::vector<int32_t> generated;
  auto logits = decoder.forward(prompt, 0, cache);
  for (int i = 0; i < count; ++i) {
    const auto next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    generated.push_back(next);
    if (next == stop_at || i + 1 == count) break;
    const int32_t step[] = {next};
    logits = decoder.forward(step, static_cast<int64_t>(prompt.size()) + i, cache);
  }
  return generated;
}

}  // namespace shardlm::golden
