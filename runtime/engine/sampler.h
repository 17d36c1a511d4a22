// Picks the next token from logits: greedy, or temperature with top-k and top-p, from a seeded
// generator so a run can be repeated exactly.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace shardlm {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  int64_t top_k = 0;         // 0 = all tokens
  float top_p = 1.0f;        // 1 = all tokens; keep the smallest set whose probability reaches top_p
  uint64_t seed = 0;
  // Throws naming the first parameter that is out of range or not a number.
  void validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  int32_t sample(std::span<const float> logits);

 private:
  double next_uniform();  // in [0, 1), from 53 random bits: the same on every platform
  SamplingParams params_;
  uint64_t state_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

}  // namespace shardlm
