#include "runtime/engine/generator.h"

#include <algorithm>
#include <chrono>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

GenerationStats generate(Decoder& model, const std::vector<int32_t>& prompt, int64_t max_new_tokens, Sampler& sampler,
                         const TokenCallback& on_token) {
  const ModelSpec& spec = model.spec();
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  SHARDLM_CHECK(prompt_length > 0, "the prompt is empty");
  SHARDLM_CHECK(prompt_length <= spec.max_seq_len, "the prompt is {} tokens, longer than the model's context of {}",
                prompt_length, spec.max_seq_len);
  SHARDLM_CHECK(max_new_tokens >= 0, "max new tokens must be >= 0, got {}", max_new_tokens);
  GenerationStats stats;
  stats.prompt_tokens = prompt_length;
  if (max_new_tokens == 0) return stats;
  // The last new token is sampled, never fed back, so it needs no cache slot.
  KvCache cache(spec, std::max(prompt_length, std::min(spec.max_seq_len, prompt_length + max_new_tokens - 1)));
  auto is_stop = [&](int32_t token) {
    return std::find(spec.stop_tokens.begin(), spec.stop_tokens.end(), token) != spec.stop_tokens.end();
  };

  auto start = std::chrono::steady_clock::now();
  int32_t token = sampler.sample(model.forward(prompt, 0, cache));
  stats.prefill_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  for (int64_t position = prompt_length;; ++position) {
    if (is_stop(token)) break;
    ++stats.generated_tokens;
    if (!on_token(token) || stats.generated_tokens == max_new_tokens || position >= cache.capacity()) break;
    const int32_t step[] = {token};
    token = sampler.sample(model.forward(step, position, cache));
  }
  stats.decode_seconds = seconds_since(start);
  return stats;
}

}  // namespace shardlm
