// Picks the next token from logits: greedy, or temperature with top-k and top-p, from a seeded
// generator so a run can be repeated exactly.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/engine/uniform_source.h"

namespace shardlm {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  int64_t top_k = 0;         // 0 = all tokens
  float top_p = 1.0f;        // 1 = all tokens; keep the smallest set whose probability reaches top_p
  uint64_t seed = 0;
  float min_p = 0.0f;        // drop tokens less likely than min_p x the most likely one; 0 = off
  // Penalties on tokens already in the context (prompt and generated so far): the repetition
  // penalty divides a positive logit by it and multiplies a negative one (CTRL, as transformers);
  // the presence penalty is subtracted once from the logit of every such token (as OpenAI's API).
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  // Throws naming the first parameter that is out of range or not a number.
  void validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // `context`: the tokens so far, for the penalties (may be empty when they are off).
  int32_t sample(std::span<const float> logits, std::span<const int32_t> context = {});
  // The model's log-probability of `token` under `logits` (log-softmax, before any penalty,
  // temperature or truncation): what a client asks for as the chosen token's logprob.
  static float log_probability(std::span<const float> logits, int32_t token);
  // The distribution sample() draws from, over the whole vocabulary: penalties, temperature, top-k,
  // min-p and top-p applied and renormalised (a point mass at the argmax when greedy). Speculative
  // sampling accepts or rejects drafted tokens against it. Draws nothing from the generator.
  void distribution(std::span<const float> logits, std::span<const int32_t> context, std::vector<float>& probs);
  const SamplingParams& params() const { return params_; }

 private:
  // The logits after the repetition and presence penalties (the input itself when they are off).
  std::span<const float> penalized(std::span<const float> logits, std::span<const int32_t> context);
  // Fills candidates_ with exp((logit - max) / temperature) of the tokens top-k keeps, most likely
  // first, and returns how many of them min-p and top-p keep. Not for greedy sampling.
  size_t weigh(std::span<const float> logits);
  // weigh() without top-k, when min-p or top-p cut the tail: sorts only the head they keep.
  template <typename Order>
  size_t weigh_head(const Order& by_logit);
  // How many of the `sorted` leading candidates (weights by weight(i), normaliser total) min-p and
  // top-p keep; 0 when neither cuts within them.
  template <typename Weight>
  size_t tail_cut(size_t sorted, const Weight& weight, double total) const;
  SamplingParams params_;
  UniformSource random_;
  std::vector<std::pair<float, int32_t>> candidates_;
  std::vector<float> penalized_;
};

}  // namespace shardlm
